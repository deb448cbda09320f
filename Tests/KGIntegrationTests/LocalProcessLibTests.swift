import Foundation
import XCTest

/// The process library of the local scripts (deploy/local/lib.sh), with which `make up`,
/// `make down` and the bench start and stop the gateway and the workers. Found in the
/// twelfth session: a service whose binary was rebuilt while it ran (the linker writes a
/// new file in the old one's place) has a `/proc/PID/exe` of "…/kg-worker (deleted)";
/// `is_ours` took it for another program, so `stop_pids` left it running while the bench
/// logged "worker-1 stopped", and two bench workers kept taking the bench's jobs for two
/// hours. Runs the real library on a real process: `sleep` copied under our binary's name.
final class LocalProcessLibTests: XCTestCase {
    func testAServiceWhoseBinaryWasRebuiltIsStillStopped() throws {
        let dir = NSTemporaryDirectory() + "kg-lib-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: dir + "/kg-worker")
        let script = """
            set -eu
            log() { echo "$*"; }
            . "\(repo)/deploy/local/lib.sh"
            start_service worker "\(dir)/worker.pid" "\(dir)/worker.log" "\(dir)/kg-worker" 300
            pid=$(cat "\(dir)/worker.pid")
            # The rebuild: a new file in the old one's place.
            cp /bin/sleep "\(dir)/kg-worker.new"
            mv -f "\(dir)/kg-worker.new" "\(dir)/kg-worker"
            echo "exe: $(readlink "/proc/$pid/exe")"
            if pidfile_running "\(dir)/worker.pid"; then echo "seen as running"; fi
            stop_pidfile "\(dir)/worker.pid" 5
            if kill -0 "$pid" 2>/dev/null; then
                echo "still running after stop_pidfile"
                kill -KILL "$pid"
                exit 1
            fi
            echo "gone"
            """
        let r = try runCommand("/bin/bash", ["-c", script], environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], timeout: 60)
        XCTAssertTrue(r.stdout.contains("kg-worker (deleted)"), "the binary was not replaced under the process:\n" + r.summary)
        XCTAssertTrue(r.stdout.contains("seen as running"), r.summary)
        XCTAssertEqual(r.exitCode, 0, r.summary)
        XCTAssertTrue(r.stdout.contains("gone"), r.summary)
    }
}
