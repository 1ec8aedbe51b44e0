import Foundation

/// A fresh temporary directory, removed when the value goes away.
public final class TempDir {
    public let path: String

    /// Creates `<tmp>/<prefix>-<uuid>`; a failure is a test failure, not a crash of the runner.
    public init(_ prefix: String = "vigie-test") throws {
        path = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside it.
    public func sub(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// The permission bits of `path` (0o600 for a key).
public func fileMode(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    guard let mode = attributes[.posixPermissions] as? NSNumber else {
        throw TestSupportError("no permissions reported for \(path)")
    }
    return mode.intValue & 0o777
}
