// vigie-fuzz TARGET …: the fuzz targets of VigieFuzz as one program.
//
// Built by `make fuzz` with `-sanitize=fuzzer,address -D VIGIE_FUZZ`, it is a
// libFuzzer driver: `vigie-fuzz frame [libFuzzer options] [CORPUS_DIR…]`.
// In a normal build it replays files instead: `vigie-fuzz frame FILE|DIR…`
// prints each input's outcome and exits 1 if an invariant breaks.
import Foundation
import VigieFuzz

#if VIGIE_FUZZ
/// libFuzzer's entry for programs that keep their own `main` (SwiftPM links
/// executables with `main` aliased to the module's entry point).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The target chosen on the command line (read by the C callback, which cannot capture).
nonisolated(unsafe) var fuzzTarget = FuzzTarget.frame
#endif

@main
struct FuzzMain {
    static func main() {
        let args = CommandLine.arguments
        guard args.count >= 2, let target = FuzzTarget(rawValue: args[1]) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
            FileHandle.standardError.write(Data("usage: vigie-fuzz \(names) [libFuzzer options | FILE…]\n".utf8))
            exit(2)
        }
        #if VIGIE_FUZZ
        fuzzTarget = target
        // libFuzzer sees the program name and what follows the target.
        var argc = CInt(args.count - 1)
        let argv = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: args.count)
        argv[0] = CommandLine.unsafeArgv[0]
        for i in 2..<args.count { argv[i - 1] = CommandLine.unsafeArgv[i] }
        argv[args.count - 1] = nil
        var argvPointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
        exit(LLVMFuzzerRunDriver(&argc, &argvPointer) { data, size in
            do {
                _ = try fuzzTarget.run(UnsafeRawBufferPointer(start: data, count: size))
            } catch {
                fatalError("\(error)")
            }
            return 0
        })
        #else
        var failures = 0
        for path in args.dropFirst(2) {
            for file in files(path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    print("\(file): cannot read")
                    failures += 1
                    continue
                }
                do {
                    print("\(file): \(try target.run(Array(data)))")
                } catch {
                    print("\(file): FAILED: \(error)")
                    failures += 1
                }
            }
        }
        exit(failures == 0 ? 0 : 1)
        #endif
    }

    /// `path` itself, or the files of the directory `path`, sorted.
    static func files(_ path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(path)/\($0)" }
    }
}
