import Foundation
import Testing
import VigieFuzz

/// Replays the fuzz corpus (`Fuzz/corpus/<target>/`) and the inputs of fixed
/// crashes (`Fuzz/crashes/<target>/`) through the fuzz targets, so that every
/// crash libFuzzer found stays fixed and the seeds stay meaningful.
@Suite struct CorpusReplayTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func files(_ folder: String) -> [URL] {
        let url = repository.appendingPathComponent(folder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { url.appendingPathComponent($0) }
    }

    static func replay(_ target: FuzzTarget, _ file: URL) throws -> FuzzOutcome {
        try target.run(Array(try Data(contentsOf: file)))
    }

    /// Each seed says by its name what the code under test must make of it:
    /// `invalid-…` is refused, anything else accepted (a frame decodes, a
    /// request is read, a configuration loads, an event parses and chains).
    @Test(arguments: FuzzTarget.allCases)
    func seedsAreReadAsTheirNamesSay(_ target: FuzzTarget) throws {
        let seeds = Self.files("Fuzz/corpus/\(target)")
        #expect(seeds.filter { !$0.lastPathComponent.hasPrefix("invalid-") }.count >= 3, "too few valid seeds for \(target)")
        #expect(seeds.filter { $0.lastPathComponent.hasPrefix("invalid-") }.count >= 2, "too few invalid seeds for \(target)")
        for seed in seeds {
            let outcome = try Self.replay(target, seed)
            let valid = !seed.lastPathComponent.hasPrefix("invalid-")
            #expect(outcome.accepted == valid, "\(target)/\(seed.lastPathComponent): \(outcome)")
        }
    }

    /// The inputs of the crashes found by fuzzing (docs/FUZZING.md) no longer
    /// crash nor break an invariant.
    @Test(arguments: FuzzTarget.allCases)
    func crashesStayFixed(_ target: FuzzTarget) throws {
        for input in Self.files("Fuzz/crashes/\(target)") {
            let outcome = try Self.replay(target, input)
            print("\(target)/\(input.lastPathComponent): \(outcome)")
        }
    }

    /// The shipped example configuration (the config corpus holds a copy of
    /// it, which may age) loads through the fuzz target as it is today.
    @Test func shippedConfigExampleIsAccepted() throws {
        let outcome = try Self.replay(.config, Self.repository.appendingPathComponent("Config/school.example.toml"))
        #expect(outcome.accepted, "\(outcome)")
    }
}
