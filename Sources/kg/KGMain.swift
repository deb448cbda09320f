import KGCLI

@main
enum KGMain {
    static func main() {
        KG.runMain()
    }
}
