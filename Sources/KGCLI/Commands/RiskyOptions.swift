import ArgumentParser

/// The options of every risky operation: checkpoint, keep it, do not wait.
struct RiskyOptions: ParsableArguments {
    @Flag(
        inversion: .prefixedNo,
        help: ArgumentHelp(
            "Make a checkpoint (a full backup of the graph on the server) first, and roll back to it on any failure (default: on)."))
    var checkpoint = true

    @Flag(name: .long, help: "Keep the checkpoint after a success too (`kg admin checkpoints list` shows it).")
    var keepCheckpoint = false

    @Flag(name: .long, help: "Fail at once (exit 1) when another risky operation is running, instead of waiting for it.")
    var noWait = false

    func validate() throws {
        if keepCheckpoint && !checkpoint {
            throw ValidationError("--keep-checkpoint needs a checkpoint: leave out --no-checkpoint")
        }
    }

    var body: [String: Any] {
        ["checkpoint": checkpoint, "keep_checkpoint": keepCheckpoint, "no_wait": noWait]
    }
}
