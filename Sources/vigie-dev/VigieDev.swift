import ArgumentParser
import VigieCLI

/// `vigie-dev`: the developer's side of Vigie (a demo school on this machine, the
/// benchmarks, the scale harness). The console forwards `vigie demo|bench|harness …`
/// here, so the console a teacher runs never links the agent, the server or the harness.
@main
struct VigieDev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigie-dev",
        abstract: "Vigie for developers: the demo school, the benchmarks and the scale harness.",
        discussion: "`vigie demo|bench|harness …` is `vigie-dev demo|bench|harness …`.",
        subcommands: [DemoCommand.self, BenchCommand.self, HarnessCommand.self]
    )
}
