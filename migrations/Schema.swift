import Foundation

/// The product's schema: the numbered files in `migrations/sql/`, shipped with the binary.
public enum Schema {
    /// The directory holding the `.sql` files.
    public static var directory: URL {
        Bundle.module.resourceURL!.appendingPathComponent("sql")
    }
}
