/// The product's version: `followup --version` prints it, and scripts/release.sh names the
/// release after it. The one place to change it.
enum FollowupVersion {
    static let current = "0.9.0"
}
