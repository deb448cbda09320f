/// Identifies the software that wrote a backup (`producer` in the file).
public enum Producer {
    public static let name = "kg"
    public static let version = "0.1.0"
}
