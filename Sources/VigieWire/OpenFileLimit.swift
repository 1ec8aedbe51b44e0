#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif

/// The process's open-file limit (RLIMIT_NOFILE). Debian's default soft limit is
/// 1,024: a console or a harness with 1,000 connections needs more.
public enum OpenFileLimit {
    /// The soft and hard limits now.
    public static func current() -> (soft: Int, hard: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (1024, 1024) }
        return (clamp(limit.rlim_cur), clamp(limit.rlim_max))
    }

    /// Raises the soft limit to the hard limit. Returns a sentence for stderr when
    /// the result is still below `needed` (nil when it is enough).
    @discardableResult
    public static func raise(needed: Int, what: String) -> String? {
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let (soft, hard) = current()
        guard soft < needed else { return nil }
        return "\(what) needs about \(needed) open files but this process may open \(soft) (hard limit \(hard)); "
            + "some seats will fail with “too many open files”. Raise the hard limit: `ulimit -Hn \(needed)` as root, "
            + "LimitNOFILE= in a systemd unit, or nofile in /etc/security/limits.conf."
    }

    private static func clamp(_ value: rlim_t) -> Int {
        value > rlim_t(Int32.max) ? Int(Int32.max) : Int(value)
    }
}
