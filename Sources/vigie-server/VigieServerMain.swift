import ArgumentParser
import VigieCLI

/// `vigie-server`: the school server and what runs next to its store. The
/// console forwards `vigie server …` and `vigie pki enroll-token …` here, so the
/// console itself never links the server.
@main
struct VigieServerMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigie-server",
        abstract: "The school server of Vigie: the seats' journals and the register.",
        discussion: """
            `vigie server …` is `vigie-server run …`; `vigie pki enroll-token …` is `vigie-server enroll-token …`; \
            `vigie register verify --store …` is `vigie-server verify-store --store …`.
            Exit status: 0 stopped cleanly; 64 bad command line; 78 bad configuration or identity.
            """,
        subcommands: [ServerCommand.self, PKIEnrollToken.self, VerifyStore.self, SignageCommand.self],
        defaultSubcommand: ServerCommand.self
    )
}
