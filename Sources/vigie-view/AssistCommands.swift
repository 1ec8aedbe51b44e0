import ArgumentParser
import Foundation
import VigieCLI
import VigieConsole
import VigieController
import VigieModel
import VigieWire

/// A call to the school server for an assistance command; prints a refusal in words.
func serverCall(_ console: Console, _ feature: String, args: [String: String], output: FileHandle? = nil) async throws -> RegisterAnswer? {
    guard let server = console.config.server else {
        throw Failure.configuration(console.language == .fr ? "pas de section [server] dans la configuration : où est le serveur de l’établissement ?"
                                                            : "no [server] section in the configuration: where is the school server?")
    }
    let client: ServerClient
    do {
        client = try ServerClient(server: server, school: console.config.school.id, identity: console.identity)
    } catch {
        throw Failure.configuration("\(error)")
    }
    do {
        let answer = try await client.call(feature, args: args, output: output, timeout: console.timeout + .seconds(20))
        if answer.status != .ok {
            FileHandle.standardError.write(Data("vigie assist: \(answer.status.rawValue): \(Catalog.text(answer.reason, console.language))\n".utf8))
            return nil
        }
        return answer
    } catch {
        let why = (error as? WireError).map { Catalog.text($0.reason, console.language) } ?? "\(error)"
        let words = Catalog.text(Reason("server.unanswered", ["address": server.address, "detail": why]), console.language)
        FileHandle.standardError.write(Data("vigie assist: \(words)\n".utf8))
        return nil
    }
}

/// `vigie assist --code 123456`: the code the person at the seat read from « Demander de l’aide ».
struct AssistCode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assist-code",
        abstract: "Help the person who asked for help, with the code they give you (`vigie assist --code 123456`).",
        discussion: """
            The school server says which seat the code belongs to (or give --seat when the server \
            cannot be reached); the seat checks the code again, once. The person still accepts or \
            refuses on their screen. Wrong codes are counted: after 5 within 10 minutes no code is \
            checked for 10 minutes.
            """)

    @OptionGroup var options: ConsoleOptions
    @Option(help: ArgumentHelp("The six-digit code the person read to you.", valueName: "code"))
    var code: String
    @Option(help: ArgumentHelp("The seat, when the school server cannot say it.", valueName: "seat"))
    var seat: String?
    @Option(help: ArgumentHelp("Why you ask, when the person wrote nothing (they read it), 200 characters at most.", valueName: "text"))
    var reason: String?
    @Flag(name: .customLong("control"), help: "Ask to take the keyboard and mouse too (a second question to the person).")
    var assistControl = false
    @Flag(help: "Only print the address and password; do not start a VNC viewer.")
    var noViewer = false
    @Option(help: ArgumentHelp("The local port (default: any free one).", valueName: "port"))
    var port = 0
    @Option(help: ArgumentHelp("The picture quality: low, medium or high.", valueName: "quality"))
    var quality: String = RemoteQuality.standard.rawValue

    func validate() throws {
        let digits = code.filter { $0 != " " }
        if digits.count != 6 || !digits.allSatisfy(\.isASCII) || !digits.allSatisfy(\.isNumber) {
            throw ValidationError("--code is the six digits the person read to you")
        }
        if let reason, reason.count > 200 { throw ValidationError("--reason: 200 characters at most") }
        if RemoteQuality(rawValue: quality) == nil { throw ValidationError("--quality is low, medium or high") }
    }

    func run() async throws {
        try await runConsole {
            let console = try Console(options)
            let digits = code.filter { $0 != " " }
            let fr = console.language == .fr
            var seatID = seat
            var description = ""
            if seatID == nil {
                guard let answer = try await serverCall(console, "assist.resolve", args: ["code": digits]) else { return Exit.someSeatsDidNot }
                seatID = answer.reason.params["seat"]
                description = answer.reason.params["description"] ?? ""
                if !console.json {
                    let user = answer.reason.params["user"] ?? "?"
                    writeLine(fr ? "Code reconnu : poste \(seatID ?? "?") (\(user))\(description.isEmpty ? "" : " — « \(description) »")"
                                 : "Code recognised: seat \(seatID ?? "?") (\(user))\(description.isEmpty ? "" : " — “\(description)”")")
                }
            }
            guard let seatID, let target = console.config.seat(seatID) else {
                throw Failure.usage(fr ? "poste inconnu : \(seatID ?? "?")" : "unknown seat: \(seatID ?? "?")")
            }
            var extra = ["mode": assistControl ? "control" : "view", "code": digits]
            if let reason, !reason.trimmingCharacters(in: .whitespaces).isEmpty { extra["reason"] = reason }
            return try await ViewCommand.open(.assist, on: target, extra: extra, console: console, port: port, quality: quality, noViewer: noViewer)
        }
    }
}

/// `vigie assist requests`: the help requests waiting, in the rooms where you may assist.
struct AssistRequests: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assist-requests", abstract: "The help requests waiting (« Demander de l’aide »), in the rooms where you may assist.")
    @OptionGroup var options: ConsoleOptions

    func run() async throws {
        try await runConsole {
            let console = try Console(options)
            guard let answer = try await serverCall(console, "assist.requests", args: [:]) else { return Exit.someSeatsDidNot }
            let lines = String(decoding: answer.body, as: UTF8.self).split(separator: "\n")
            if console.json {
                for line in lines { writeLine(String(line)) }
                return Exit.ok
            }
            let fr = console.language == .fr
            if lines.isEmpty {
                writeLine(fr ? "Aucune demande d’aide en attente." : "No help request waiting.")
                return Exit.ok
            }
            writeLine(fr ? "POSTE\tSALLE\tPERSONNE\tDEMANDÉ\tEXPIRE DANS\tPROBLÈME" : "SEAT\tROOM\tPERSON\tASKED\tEXPIRES IN\tPROBLEM")
            for line in lines {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String] else { continue }
                let seconds = Int(object["expires_in"] ?? "") ?? 0
                let asked = object["asked"].map { String($0.dropFirst(11).prefix(5)) } ?? "?"
                writeLine([object["seat"] ?? "?", object["room"] ?? "?", object["user"] ?? "?", asked,
                           "\(seconds / 60) min \(seconds % 60) s", object["description"] ?? ""].joined(separator: "\t"))
            }
            writeLine(fr ? "Le code, c’est la personne qui vous le donne : vigie assist --code NNNNNN" : "The person gives you the code: vigie assist --code NNNNNN")
            return Exit.ok
        }
    }
}

/// `vigie assist note ID …`: the helper completes the intervention sheet.
struct AssistNote: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assist-note",
        abstract: "Complete an intervention's sheet: the problem, the diagnosis and actions, the state before and after, the advice given.",
        discussion: "Without any field on a terminal, each is asked in turn. A later note replaces the sheet's fields; every note stays in the register.")
    @OptionGroup var options: ConsoleOptions
    @Argument(help: ArgumentHelp("The intervention, as vigie assist printed it (SEAT-NUMBER).", valueName: "id"))
    var intervention: String
    @Option(help: "The problem reported.") var problem: String?
    @Option(help: "The diagnosis and the actions taken.") var diagnosis: String?
    @Option(help: "The state before.") var before: String?
    @Option(help: "The state after.") var after: String?
    @Option(help: "The advice given.") var advice: String?

    func run() async throws {
        try await runConsole {
            let console = try Console(options)
            var fields: [String: String] = [:]
            fields["problem"] = problem
            fields["diagnosis"] = diagnosis
            fields["before"] = before
            fields["after"] = after
            fields["advice"] = advice
            if fields.isEmpty, isatty(0) == 1 {
                let fr = console.language == .fr
                let prompts = fr
                    ? [("problem", "Problème signalé"), ("diagnosis", "Diagnostic et actions"), ("before", "État avant"),
                       ("after", "État après"), ("advice", "Conseils donnés")]
                    : [("problem", "Problem reported"), ("diagnosis", "Diagnosis and actions"), ("before", "State before"),
                       ("after", "State after"), ("advice", "Advice given")]
                for (key, label) in prompts {
                    FileHandle.standardOutput.write(Data("\(label) : ".utf8))
                    if let line = readLine(), !line.isEmpty { fields[key] = line }
                }
            }
            var args = fields
            args["intervention"] = intervention
            guard let answer = try await serverCall(console, "assist.note", args: args) else { return Exit.someSeatsDidNot }
            writeLine(Catalog.text(answer.reason, console.language))
            return Exit.ok
        }
    }
}

/// `vigie assist report ID`: the report for the person assisted.
struct AssistReport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assist-report", abstract: "An intervention's report, for the person assisted (French first): txt or html.")
    @OptionGroup var options: ConsoleOptions
    @Argument(help: ArgumentHelp("The intervention (SEAT-NUMBER).", valueName: "id"))
    var intervention: String
    @Option(help: "txt or html.") var format = "txt"
    @Option(help: ArgumentHelp("Output file (created 0600); without it, printed.", valueName: "file")) var out: String?

    func validate() throws {
        guard ["txt", "html"].contains(format) else { throw ValidationError("--format is txt or html") }
    }

    func run() async throws {
        try await runConsole {
            let console = try Console(options)
            guard let answer = try await serverCall(console, "assist.report",
                                                    args: ["intervention": intervention, "format": format, "lang": console.language.rawValue])
            else { return Exit.someSeatsDidNot }
            if let out {
                // A report holds personal data: readable by its owner only.
                let handle = try createPrivateFile(out)
                try handle.write(contentsOf: answer.body)
                try handle.close()
                writeLine("\(Catalog.text(answer.reason, console.language)) → \(out)")
            } else {
                FileHandle.standardOutput.write(Data(answer.body))
            }
            return Exit.ok
        }
    }
}

/// `vigie assist control ID`: inside a running assistance (view only), ask the
/// person for the keyboard and mouse. They answer on their screen; once they
/// accept, the viewer already open controls (no new connection).
struct AssistControl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assist-control",
        abstract: "Inside your running assistance, ask the person for the keyboard and mouse (they answer on their screen).",
        discussion: "ID is the intervention the assistance printed when it opened (SEAT-NUMBER). Your VNC viewer stays open: it controls once the person accepts.")
    @OptionGroup var options: ConsoleOptions
    @Argument(help: ArgumentHelp("The running assistance's intervention (SEAT-NUMBER).", valueName: "id"))
    var intervention: String

    func validate() throws {
        guard let dash = intervention.lastIndex(of: "-"), dash != intervention.startIndex,
              Int(intervention[intervention.index(after: dash)...]) != nil else {
            throw ValidationError("the intervention is SEAT-NUMBER, as vigie assist printed it")
        }
    }

    func run() async throws {
        try await runConsole {
            let console = try Console(options)
            let seatID = String(intervention[..<intervention.lastIndex(of: "-")!])
            guard let seat = console.config.seat(seatID) else {
                throw Failure.usage(console.language == .fr ? "poste inconnu : \(seatID)" : "unknown seat: \(seatID)")
            }
            let session: ConsoleSession
            do {
                session = try ConsoleSession(identity: console.identity, schoolID: console.config.school.id)
            } catch {
                throw Failure.configuration("\(error)")
            }
            if !console.json {
                writeLine(console.language == .fr ? "\(seat.id) : prise en main demandée, en attente de la réponse de la personne au poste…"
                                                  : "\(seat.id): control asked, waiting for the answer of the person at the seat…")
            }
            // The person has up to a minute to answer.
            var status = Exit.ok
            for await result in session.send(.assist, args: ["mode": "control", "intervention": intervention], to: [seat],
                                             timeout: console.timeout + .seconds(70)) {
                writeLine(console.line(result, extra: [:], width: seat.id.count))
                if result.status != .ok { status = Exit.someSeatsDidNot }
            }
            await session.close()
            return status
        }
    }
}
