import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Small POSIX file helpers. Private keys are created with their final mode
/// from the first byte (`open(O_CREAT|O_EXCL, 0600)` + `fchmod`), written to a
/// temporary name and moved into place, so no other user ever sees a partial or
/// world-readable key.
enum SecureFile {
    static func join(_ directory: String, _ name: String) -> String {
        if directory.hasSuffix("/") { return directory + name }
        return directory + "/" + name
    }

    /// The directory part of `path` ("" for a bare name, "/" for a top-level
    /// entry). Plain string work: NSString's path methods crash on some short
    /// relative paths in swift-corelibs-foundation.
    static func parent(of path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return "" }
        if slash == p.startIndex { return "/" }
        return String(p[..<slash])
    }

    /// The last component of `path`.
    static func baseName(of path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return String(p) }
        return String(p[p.index(after: slash)...])
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    static func errnoText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    /// Creates `path` and its parents if needed; new directories get `mode`.
    static func makeDirectory(_ path: String, mode: mode_t) throws {
        var st = stat()
        if stat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw PKIError(.fileAccess, path: path, "exists and is not a directory")
            }
            return
        }
        let parent = parent(of: path)
        if !parent.isEmpty, parent != path, parent != "/" {
            try makeDirectory(parent, mode: 0o755)
        }
        if mkdir(path, mode) != 0 && errno != EEXIST {
            let e = errno
            throw PKIError(.fileAccess, path: path, "cannot create directory: \(errnoText(e))")
        }
    }

    /// Writes `contents` to `path` with exactly `mode`.
    ///
    /// The data goes to a temporary file in the same directory, created with
    /// `O_CREAT|O_EXCL` and `mode` (then `fchmod`, so the umask cannot widen or
    /// narrow it), is synced, and is then moved into place: with `overwrite`
    /// false by `link` (fails if the name exists), otherwise by `rename`.
    static func write(_ contents: String, to path: String, mode: mode_t, overwrite: Bool) throws {
        if !overwrite && exists(path) {
            throw PKIError(.fileExists, path: path, "already exists; refusing to overwrite it")
        }
        let directory = parent(of: path)
        let base = baseName(of: path)
        var tmp = ""
        var fd: Int32 = -1
        for _ in 0..<8 {
            let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            tmp = join(directory.isEmpty ? "." : directory, ".\(base).tmp-\(suffix)")
            fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else {
            let e = errno
            throw PKIError(.fileAccess, path: path, "cannot create file: \(errnoText(e))")
        }
        var ok = false
        defer {
            if fd >= 0 { close(fd) }
            if !ok { unlink(tmp) }
        }
        guard fchmod(fd, mode) == 0 else {
            let e = errno
            throw PKIError(.fileAccess, path: path, "cannot set mode \(String(mode, radix: 8)): \(errnoText(e))")
        }
        let bytes = Array(contents.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { buf in
                Foundation.write(fd, buf.baseAddress! + written, buf.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                throw PKIError(.fileAccess, path: path, "cannot write: \(errnoText(e))")
            }
            written += n
        }
        guard fsync(fd) == 0 else {
            let e = errno
            throw PKIError(.fileAccess, path: path, "cannot sync: \(errnoText(e))")
        }
        close(fd)
        fd = -1
        if overwrite {
            guard rename(tmp, path) == 0 else {
                let e = errno
                throw PKIError(.fileAccess, path: path, "cannot move into place: \(errnoText(e))")
            }
        } else {
            guard link(tmp, path) == 0 else {
                let e = errno
                if e == EEXIST {
                    throw PKIError(.fileExists, path: path, "already exists; refusing to overwrite it")
                }
                throw PKIError(.fileAccess, path: path, "cannot move into place: \(errnoText(e))")
            }
            unlink(tmp)
        }
        ok = true
    }

    /// Reads a text file. With `privateKey`, refuses files that group or others
    /// may read or write, as ssh does.
    static func read(_ path: String, privateKey: Bool = false) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw PKIError(.fileMissing, path: path, "no such file") }
            throw PKIError(.fileAccess, path: path, "cannot open: \(errnoText(e))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            throw PKIError(.fileAccess, path: path, "cannot stat: \(errnoText(e))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw PKIError(.fileAccess, path: path, "is not a regular file")
        }
        if privateKey {
            let perms = st.st_mode & 0o777
            if perms & 0o077 != 0 {
                let what = perms & 0o044 != 0 ? "readable" : "writable"
                throw PKIError(
                    .keyPermissions, path: path,
                    "private key is \(what) by group or others (mode \(octal(perms))); run chmod 600 \(path)")
            }
        }
        guard st.st_size <= 1 << 20 else {
            throw PKIError(.invalidPEM, path: path, "is \(st.st_size) bytes, too large for a PEM file")
        }
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = buffer.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                throw PKIError(.fileAccess, path: path, "cannot read: \(errnoText(e))")
            }
            if n == 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw PKIError(.invalidPEM, path: path, "is not a text (PEM) file")
        }
        return text
    }

    /// The permission bits of `path`, or nil when it cannot be stat'ed.
    static func mode(of path: String) -> mode_t? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return st.st_mode & 0o7777
    }

    static func octal(_ mode: mode_t) -> String {
        let s = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }
}
