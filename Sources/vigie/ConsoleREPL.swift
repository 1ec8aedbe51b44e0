import ArgumentParser
import Foundation
import VigieCLI
import VigieConsole
import VigieController
import VigieWire
import VigieModel
import VigieTerminal

/// `vigie console`: a teacher's interactive console. Connections to the seats
/// stay open (``ConsoleSession``); each line runs the one-shot command of the same
/// name (same parsing, same output) over them.
struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "An interactive console that keeps the seats' connections open (type help inside).",
        discussion: """
            Without --room, --seat or --all: every seat your identity may reach. Lines are the one-shot \
            commands without `vigie` and without targets (they go to the console's seats unless the line \
            names its own): lock --for 20m, unlock, message Rangez vos affaires, screenshot --out shots, \
            power off --delay 120, run -- /usr/bin/df -h, status; and room R, seats S,…, seats, help, quit.
            """
    )
    @Option(name: .customLong("room"), help: ArgumentHelp("Every seat of this room (repeatable).", valueName: "room"))
    var rooms: [String] = []
    @Option(name: .customLong("seat"), help: ArgumentHelp("These seats, comma-separated (repeatable); with --room, seats of those rooms only.", valueName: "seat,…"))
    var seats: [String] = []
    @Flag(help: "Every seat your identity may reach (the default).")
    var all = false
    @OptionGroup var options: ConsoleOptions

    func run() async throws {
        try await runConsole {
            let console = try Console(options)
            let target = try targetOptions(rooms: rooms, seats: seats, all: all || (rooms.isEmpty && seats.isEmpty))
            let chosen = try console.seats(target)
            if let warning = OpenFileLimit.raise(needed: chosen.count + 64, what: "a console of \(chosen.count) seats") {
                FileHandle.standardError.write(Data("vigie: \(warning)\n".utf8))
            }
            let repl = try ConsoleREPL(console: console, seats: chosen, label: rooms.isEmpty ? nil : rooms.joined(separator: ","))
            return await repl.run()
        }
    }
}

/// The console's read–run loop.
final class ConsoleREPL: @unchecked Sendable {
    var console: Console
    let terminal: Terminal
    let session: ConsoleSession
    var seats: [Seat]
    var label: String?
    /// Connection changes are printed once the first table is out.
    let announcer: Announcer

    init(console: Console, seats: [Seat], label: String?) throws {
        self.console = console
        self.seats = seats
        self.label = label
        let terminal = Terminal()
        self.terminal = terminal
        let language = console.language
        let announcer = Announcer()
        self.session = try ConsoleSession(identity: console.identity, schoolID: console.config.school.id) { event in
            guard announcer.on else { return }
            terminal.print("· " + ConsoleWords.event(event, language))
        }
        self.announcer = announcer
        self.console.sender = session
    }

    /// Runs until `quit`, Ctrl-D or the end of input; returns the exit status.
    func run() async -> Int32 {
        terminal.enterRawMode()
        defer { terminal.restore() }
        let restoreOnSignal = terminal
        for sig in [SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                restoreOnSignal.restore()
                exit(0)
            }
            source.resume()
            OnceFlag.keep(source)
        }

        session.retain(seats)
        await session.settle(timeout: console.timeout)
        // What the seats say about themselves (journaled on each seat, like `vigie status`).
        for await _ in session.send(.status, to: seats, timeout: console.timeout) {}
        terminal.print(header())
        await printTable(onlyTrouble: seats.count > 40)
        announcer.on = true

        while let line = await terminal.nextLine(prompt: prompt) {
            let words: [String]
            do {
                words = try ConsoleLine.split(line)
            } catch {
                terminal.print("vigie: \(error)")
                continue
            }
            guard let verb = words.first else { continue }
            if verb == "quit" || verb == "exit" { break }
            await execute(verb, Array(words.dropFirst()))
        }
        announcer.on = false
        await session.close()
        return Exit.ok
    }

    /// « vigie console — M. Dupont (teacher) — tapez help… » (a plain function: Swift 6.3.1's
    /// optimizer crashes on this optional chain inside the async `run`).
    func header() -> String {
        let who = console.identity.identity
        var text = "vigie console — " + who.displayName
        if let role = who.role { text += " (" + role.rawValue + ")" }
        return text + " — " + ConsoleWords.help(console.language)[0]
    }

    var prompt: String {
        let what = label ?? (seats.count == 1 ? seats[0].id : "\(seats.count) \(console.language == .fr ? "postes" : "seats")")
        return "vigie \(what)> "
    }

    func execute(_ verb: String, _ rest: [String]) async {
        do {
            switch verb {
            case "help", "?":
                for line in ConsoleWords.help(console.language) { terminal.print(line) }
            case "seats" where rest.isEmpty:
                await printTable(onlyTrouble: false)
            case "seats", "room", "all":
                let rooms = verb == "room" ? rest.flatMap { $0.split(separator: ",").map(String.init) } : []
                guard verb == "all" || !rest.isEmpty else { throw Failure.usage("\(verb): say which") }
                let target = try targetOptions(rooms: rooms, seats: verb == "seats" ? rest : [], all: verb == "all")
                let chosen = try console.seats(target)
                guard !chosen.isEmpty else { throw Failure.usage(verb == "room" ? "room R: say which room" : "no seat") }
                OpenFileLimit.raise(needed: chosen.count + 64, what: "\(chosen.count) seats").map { terminal.print("vigie: \($0)") }
                seats = chosen
                label = verb == "room" ? target.rooms.joined(separator: ",") : nil
                session.retain(seats)
                await session.settle(timeout: console.timeout)
                await printTable(onlyTrouble: seats.count > 40)
            default:
                guard let command = try parse(verb, rest) else {
                    terminal.print("vigie: \(ConsoleWords.unknown(verb, console.language))")
                    return
                }
                _ = try await command(console)
            }
        } catch let failure as Failure {
            terminal.print("vigie: \(failure.description)")
        } catch {
            terminal.print("vigie: \(error)")
        }
    }

    /// The one-shot command for `verb`, parsed by ArgumentParser from the line's
    /// words, with the console's seats as targets unless the line names its own.
    func parse(_ verb: String, _ rest: [String]) throws -> ((Console) async throws -> Int32)? {
        let named = rest.contains { $0 == "--all" || $0.hasPrefix("--room") || $0.hasPrefix("--seat") }
        let targets = named ? [] : ["--seat", seats.map(\.id).joined(separator: ",")]
        func parsed<C: ParsableCommand>(_ type: C.Type, _ args: [String]) throws -> C? {
            do {
                return try type.parseAsRoot(targets + args) as? C
            } catch {
                let message = type.fullMessage(for: error)
                terminal.print(message)
                return nil
            }
        }
        func wrap<C>(_ command: C?, _ body: @escaping (C, Console) async throws -> Int32) -> ((Console) async throws -> Int32)? {
            guard let command else { return { _ in Exit.usage } }
            return { console in try await body(command, console) }
        }
        switch verb {
        case "lock": return wrap(try parsed(LockCommand.self, rest)) { try await $0.perform($1) }
        case "unlock": return wrap(try parsed(UnlockCommand.self, rest)) { try await $0.perform($1) }
        case "status": return wrap(try parsed(StatusCommand.self, rest)) { try await $0.perform($1) }
        case "screenshot": return wrap(try parsed(ScreenshotCommand.self, rest)) { try await $0.perform($1) }
        case "run": return wrap(try parsed(RunCommand.self, rest)) { try await $0.perform($1) }
        case "logoff": return wrap(try parsed(LogoffCommand.self, rest)) { try await $0.perform($1) }
        case "message":
            // The words after the targets are the text: no quotes needed.
            var options: [String] = []
            var words = rest[...]
            while let first = words.first, ["--room", "--seat", "--all", "--json"].contains(where: { first.hasPrefix($0) }) {
                options.append(first)
                words = words.dropFirst()
                if (first == "--room" || first == "--seat"), let value = words.first {
                    options.append(value)
                    words = words.dropFirst()
                }
            }
            if words.first == "--" { words = words.dropFirst() }
            return wrap(try parsed(MessageCommand.self, options + ["--", words.joined(separator: " ")])) { try await $0.perform($1) }
        case "power":
            let action = rest.first ?? ""
            let args = Array(rest.dropFirst())
            switch action {
            case "off": return wrap(try parsed(PowerOffCommand.self, args)) { try await $0.perform($1) }
            case "reboot": return wrap(try parsed(PowerRebootCommand.self, args)) { try await $0.perform($1) }
            case "cancel": return wrap(try parsed(PowerCancelCommand.self, args)) { try await $0.perform($1) }
            case "on": return wrap(try parsed(PowerOnCommand.self, args)) { try await $0.perform($1) }
            default: throw Failure.usage("power off|reboot|cancel|on")
            }
        default:
            return nil
        }
    }

    /// One line per seat: connection, lock, last refusal.
    func printTable(onlyTrouble: Bool) async {
        let states = Dictionary(uniqueKeysWithValues: await session.states().map { ($0.seat.id, $0) })
        let width = max(8, seats.map(\.id.count).max() ?? 0)
        var counts: [String: Int] = [:]
        for seat in seats {
            guard let state = states[seat.id] else { continue }
            let (word, detail) = ConsoleWords.state(state, console.language)
            counts[word, default: 0] += 1
            if onlyTrouble && state.connection == .online && state.refusal == nil { continue }
            terminal.print("\(seat.id.padding(toLength: width, withPad: " ", startingAt: 0))  \(word.padding(toLength: 11, withPad: " ", startingAt: 0))  \(detail)")
        }
        terminal.print(ConsoleWords.summary(seats.count, counts, console.language))
    }
}

/// Targets as the one-shot commands parse them.
func targetOptions(rooms: [String], seats: [String], all: Bool) throws -> TargetOptions {
    var args: [String] = []
    for room in rooms { args += ["--room", room] }
    for seat in seats { args += ["--seat", seat] }
    if all { args.append("--all") }
    do {
        return try TargetOptions.parse(args)
    } catch {
        throw Failure.usage(TargetOptions.message(for: error))
    }
}

/// A flag read from event loops, set by the console.
final class Announcer: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var on: Bool {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}

/// Splitting a console line into words, as a shell would for quotes and backslashes.
enum ConsoleLine {
    struct UnterminatedQuote: Error, CustomStringConvertible {
        var description: String { "a quote is not closed" }
    }

    static func split(_ line: String) throws -> [String] {
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for c in line {
            if escaped {
                word.append(c)
                escaped = false
                continue
            }
            if let q = quote {
                if c == q { quote = nil } else if c == "\\" && q == "\"" { escaped = true } else { word.append(c) }
                continue
            }
            switch c {
            case "\\": escaped = true; inWord = true
            case "'", "\"": quote = c; inWord = true
            case " ", "\t":
                if inWord { words.append(word); word = ""; inWord = false }
            default:
                word.append(c)
                inWord = true
            }
        }
        if quote != nil { throw UnterminatedQuote() }
        if inWord { words.append(word) }
        return words
    }
}

/// The console's own words (the seats' answers come from ``Catalog``).
enum ConsoleWords {
    static func connection(_ c: SeatLinkState.Connection, _ l: Language) -> String {
        switch c {
        case .connecting: return l == .fr ? "connexion" : "connecting"
        case .online: return l == .fr ? "en ligne" : "online"
        case .offline: return l == .fr ? "hors ligne" : "offline"
        case .rejected: return l == .fr ? "rejeté" : "rejected"
        }
    }

    static func event(_ e: SeatLinkEvent, _ l: Language) -> String {
        var text = "\(e.seat.id)  \(connection(e.connection, l))"
        switch e.connection {
        case .offline(let r), .rejected(let r): text += "  " + Catalog.text(r, l)
        default: break
        }
        return text
    }

    /// The state word and what else is known.
    static func state(_ s: SeatLinkState, _ l: Language) -> (String, String) {
        switch s.connection {
        case .offline(let r), .rejected(let r): return (connection(s.connection, l), Catalog.text(r, l))
        case .connecting: return (connection(s.connection, l), "")
        case .online:
            if let refusal = s.refusal { return (l == .fr ? "refusé" : "refused", Catalog.text(refusal, l)) }
            switch s.locked {
            case true?:
                let by = s.lockedBy.map { Catalog.text(Reason("status.locked", ["by": $0]), l) }
                return (connection(s.connection, l), by ?? (l == .fr ? "verrouillé" : "locked"))
            case false?: return (connection(s.connection, l), Catalog.text(Reason("status.unlocked"), l))
            case nil: return (connection(s.connection, l), "")
            }
        }
    }

    static func summary(_ total: Int, _ counts: [String: Int], _ l: Language) -> String {
        let parts = counts.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        return l == .fr ? "\(total) poste\(total > 1 ? "s" : "") : \(parts)" : "\(total) seat\(total > 1 ? "s" : ""): \(parts)"
    }

    static func unknown(_ verb: String, _ l: Language) -> String {
        l == .fr ? "commande inconnue « \(verb) » (tapez help)" : "unknown command “\(verb)” (type help)"
    }

    static func help(_ l: Language) -> [String] {
        if l == .fr {
            return [
                "tapez help pour l’aide, quit ou Ctrl-D pour sortir.",
                "  lock [--for 20m]            verrouiller        unlock                      déverrouiller",
                "  message TEXTE               afficher un message",
                "  screenshot [--out DOSSIER] [--thumbnail LARGEUR]",
                "  status                      état des postes    seats                       tableau des connexions",
                "  power off|reboot [--delay S|--now] · power cancel · power on · logoff [--delay S|--now]",
                "  run [--timeout S] -- /usr/bin/PROGRAMME ARGS…",
                "  room R[,R…] · seats S,… · all   changer de postes (ou --room/--seat sur une ligne)",
                "  --room R --seat S : le poste S de la salle R ; plusieurs --room (ou --seat) s’ajoutent ; --all seul",
                "  Flèches, Ctrl-A/E, Ctrl-K/U/W, historique ↑/↓ ; Ctrl-C efface la ligne.",
            ]
        }
        return [
            "type help for help, quit or Ctrl-D to leave.",
            "  lock [--for 20m]            lock               unlock                      unlock",
            "  message TEXT                show a message",
            "  screenshot [--out DIR] [--thumbnail WIDTH]",
            "  status                      ask the seats      seats                       connection table",
            "  power off|reboot [--delay S|--now] · power cancel · power on · logoff [--delay S|--now]",
            "  run [--timeout S] -- /usr/bin/PROGRAM ARGS…",
            "  room R[,R…] · seats S,… · all   change seats (or --room/--seat on one line)",
            "  --room R --seat S: seat S of room R; repeated --room (or --seat) add up; --all alone",
            "  Arrows, Ctrl-A/E, Ctrl-K/U/W, history ↑/↓; Ctrl-C drops the line.",
        ]
    }
}
