// vigie-ui: the seat's on-screen helper (lock, message, notice, indicator, backdrop).
// Its own process, no Foundation: a crash of the networked agent must never
// unlock a seat. See `usage` for the command-line contract.
//
// Notices (issue 5):
// - `notice`: the login notice, a window centred on the screen with a title,
//   the text and OK; closes on OK, Enter, Escape, a click anywhere in it, the
//   window manager's close, SIGTERM, or after --timeout seconds (0: until
//   dismissed). Prints `ready` once shown; exit 0 however it was closed.
// - `indicator`: « Écran consulté par Mme Martin (CDI) à 10:02 », a small
//   banner centred on the top edge of the screen, override-redirect, selecting
//   no key or button events and grabbing nothing, so it never takes the
//   keyboard focus; kept above other windows (never above a Vigie lock) for
//   --timeout seconds (default 8), then exit 0. Prints `ready` once mapped.
// - While a seat is locked, do not start an indicator or a notice: write to
//   the lock's notice pipe instead (`lock --notice-pipe PATH`), one line per
//   command, at most 4096 bytes, in a single write():
//       notice SECONDS TEXT     banner at the top of the lock for SECONDS (0 < SECONDS <= 3600)
//       clear                   remove the banners
//   The lock creates PATH (a FIFO, mode 0600) once it holds its grabs, and
//   removes it when it exits. Open it with O_WRONLY|O_NONBLOCK: ENXIO means no
//   lock is reading it (not locked, or not yet ready). Bad lines are ignored
//   with a warning on stderr; a pipe that cannot be created leaves the lock
//   holding, without notices.
import Glibc
import VigieScreen

let usage = """
    usage:
      vigie-ui lock      [--display :N] --title TEXT [--line TEXT]... [--until UNIX_SECONDS] [--notice-pipe PATH]
                         [--by URI --by-name NAME]
      vigie-ui message   [--display :N] --title TEXT --text TEXT [--timeout SECONDS]
      vigie-ui notice    [--display :N] --title TEXT --text TEXT [--timeout SECONDS]
      vigie-ui indicator [--display :N] --text TEXT [--timeout SECONDS] [--style notice|control]   (default 8 s; control: red)
      vigie-ui consent   [--display :N] --title TEXT --text TEXT --refuse LABEL --accept LABEL --timeout SECONDS
                        (prints `accepted`, `refused`, `timeout` or `withdrawn` once answered)
      vigie-ui assist-banner [--display :N] --text TEXT --button LABEL [--style notice|control]
                        (at the bottom of the screen while someone helps; prints `stop` when the button is clicked)
      vigie-ui help      [--display :N] [--text PROBLEM] [--socket PATH] [--timeout SECONDS]
                        (without --text, a window first asks what is wrong, in one optional line)
                        (« Demander de l’aide »: asks the seat's agent for an assistance code and
                        shows it; prints the agent's answer, `ok` or `refused` then the text;
                        socket: $VIGIE_HELP_SOCKET or /run/vigie/help.sock)
      vigie-ui backdrop [--display :N] --title TEXT
      vigie-ui countdown [--display :N] --title TEXT --text TEXT --until UNIX_SECONDS [--remaining TEXT]
                        (a banner counting down to --until, then it closes; {remaining} in
                        --remaining becomes M:SS)
      vigie-ui benchmark [--display :N] [--iterations N]   (diagnostic: median ms)

    Prints `ready` on stdout once the window is shown (and, for lock, both
    grabs are held), or `error CODE DETAIL`. A lock with --notice-pipe draws
    the lines `notice SECONDS TEXT` written to PATH as banners at its top. Exit status: 0 done, 2 X
    connection failed or lost, 3 lock grab refused, 64 bad arguments.
    """

/// Exits with status 64 after printing `message` and the usage on stderr.
func badUsage(_ message: String) -> Never {
    emitError("vigie-ui: \(message)")
    emitError(usage)
    exit(64)
}

struct Arguments {
    var display: String?
    var title: String?
    var lines: [String] = []
    var text: String?
    var until: Double?
    var timeout: Double?
    var iterations = 20
    var noticePipe: String?
    var remaining: String?
    var style: String?
    var refuse: String?
    var button: String?
    var accept: String?
    var socket: String?
}

func parse(_ argv: ArraySlice<String>, allowed: Set<String>) -> Arguments {
    var args = Arguments()
    var i = argv.startIndex
    while i < argv.endIndex {
        var name = argv[i]
        var value: String?
        if let eq = name.firstIndex(of: "="), name.hasPrefix("--") {
            value = String(name[name.index(after: eq)...])
            name = String(name[..<eq])
        }
        guard allowed.contains(name) else { badUsage("unknown argument '\(argv[i])'") }
        if value == nil {
            i += 1
            guard i < argv.endIndex else { badUsage("\(name) needs a value") }
            value = argv[i]
        }
        let v = value!
        switch name {
        case "--display": args.display = v
        case "--title": args.title = v
        case "--line": args.lines.append(v)
        case "--text": args.text = v
        case "--notice-pipe":
            guard !v.isEmpty else { badUsage("--notice-pipe is empty") }
            args.noticePipe = v
        case "--until":
            guard let t = Double(v), t.isFinite, t >= 0 else { badUsage("--until needs Unix seconds, got '\(v)'") }
            args.until = t
        case "--remaining": args.remaining = v
        case "--style": args.style = v
        case "--refuse": args.refuse = v
        case "--button": args.button = v
        case "--accept": args.accept = v
        case "--socket": args.socket = v
        case "--by", "--by-name": break  // who locked: read back from the command line by a restarted agent
        case "--iterations":
            guard let n = Int(v), n > 0 else { badUsage("--iterations needs a positive integer, got '\(v)'") }
            args.iterations = n
        case "--timeout":
            guard let t = Double(v), t.isFinite, t >= 0 else { badUsage("--timeout needs seconds >= 0, got '\(v)'") }
            args.timeout = t
        default: badUsage("unknown argument '\(name)'")
        }
        i += 1
    }
    if let d = args.display, d.isEmpty { badUsage("--display is empty") }
    return args
}

/// The help request to the seat's agent over its local socket (see VigieAgent's HelpDesk).
enum HelpRequest {
    static func ask(socket path: String, problem: String) -> (ok: Bool, title: String, text: String) {
        let title = "Demander de l’aide"
        let unreachable = (false, title, "Le service Vigie de ce poste ne répond pas : appelez le service informatique.\nThe seat’s Vigie service does not answer: call the IT staff.")
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return unreachable }
        defer { close(fd) }
        let connected = withUnixSocketAddress(path) { connect(fd, $0, $1) }
        guard connected == 0 else { return unreachable }
        var limit = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let line = Array((problem.isEmpty ? "help\n" : "help\t\(problem)\n").utf8)
        guard line.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == line.count else { return unreachable }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while answer.count < 8192 {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            answer += chunk[0..<n]
        }
        let parts = String(decoding: answer, as: UTF8.self).split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "ok" || parts[0] == "refused" else { return unreachable }
        return (parts[0] == "ok", String(parts[1]), String(parts[2]))
    }
}

/// Prints `error CODE DETAIL` on stdout and exits with the status for `code`.
func fail(_ error: Error) -> Never {
    guard let e = error as? ScreenError else {
        emitLine("error internal \(error)")
        exit(1)
    }
    emitLine("error \(e.code) \(e.detail)")
    exit(e.code.hasPrefix("x11.grab-") ? 3 : 2)
}

let argv = CommandLine.arguments.dropFirst()
guard let command = argv.first else { badUsage("missing subcommand") }
if command == "--help" || command == "-h" {
    emitLine(usage)
    exit(0)
}
let rest = argv.dropFirst()

switch command {
case "lock":
    let a = parse(rest, allowed: ["--display", "--title", "--line", "--until", "--notice-pipe", "--by", "--by-name"])
    guard let title = a.title else { badUsage("lock needs --title") }
    let signalFD = Signals.install()
    do {
        try LockScreen(title: title, lines: a.lines, until: a.until, noticePipe: a.noticePipe)
            .run(display: a.display, signalFD: signalFD) { emitLine("ready") }
    } catch {
        fail(error)
    }
    exit(0)
case "message":
    let a = parse(rest, allowed: ["--display", "--title", "--text", "--timeout"])
    guard let title = a.title else { badUsage("message needs --title") }
    guard let text = a.text else { badUsage("message needs --text") }
    let signalFD = Signals.install()
    do {
        // Control characters and bidi overrides are drawn as visible symbols.
        _ = try MessageWindow(title: visibleText(title), text: visibleText(text), timeout: a.timeout ?? 0)
            .run(display: a.display, signalFD: signalFD) { emitLine("ready") }
    } catch {
        fail(error)
    }
    exit(0)
case "help":
    let a = parse(rest, allowed: ["--display", "--text", "--socket", "--timeout"])
    let path = a.socket ?? getenv("VIGIE_HELP_SOCKET").map { String(cString: $0) } ?? "/run/vigie/help.sock"
    let signalFD = Signals.install()
    var written = a.text
    if written == nil {
        // Without --text the person writes what is wrong (optional) first, then asks.
        let lang = [getenv("LC_ALL"), getenv("LANG")].compactMap { $0.map { String(cString: $0) } }.first { !$0.isEmpty } ?? ""
        let fr = !lang.hasPrefix("en")
        let form = MessageWindow.helpForm(
            title: fr ? "Demander de l’aide" : "Ask for help",
            text: fr ? "Décrivez le problème en une ligne (facultatif), puis « Demander ». Un code s’affichera : donnez-le à la personne qui vous aide."
                     : "Say what is wrong in one line (optional), then “Ask”. A code will show: give it to the person who helps you.",
            cancel: fr ? "Annuler" : "Cancel", ask: fr ? "Demander" : "Ask", timeout: a.timeout ?? 600)
        do {
            let (closed, text) = try form.runWithField(display: a.display, signalFD: signalFD) {}
            guard closed == .chose(1) else {
                emitLine("cancelled")
                exit(1)
            }
            written = text
        } catch {
            fail(error)
        }
    }
    let problem = (written ?? "").split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\t" }).joined(separator: " ")
    let trimmed = problem.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()
    let reply = HelpRequest.ask(socket: path, problem: String(String(trimmed).prefix(200)))
    emitLine(reply.ok ? "ok" : "refused")
    emitLine(reply.text)
    do {
        _ = try MessageWindow.helpCode(title: visibleText(reply.title), text: visibleText(reply.text), timeout: a.timeout ?? 0)
            .run(display: a.display, signalFD: signalFD) { emitLine("ready") }
    } catch {
        fail(error)
    }
    exit(reply.ok ? 0 : 1)
case "consent":
    let a = parse(rest, allowed: ["--display", "--title", "--text", "--refuse", "--accept", "--timeout"])
    guard let title = a.title, let text = a.text else { badUsage("consent needs --title and --text") }
    guard let refuse = a.refuse, let accept = a.accept else { badUsage("consent needs --refuse and --accept (the buttons' labels)") }
    guard let timeout = a.timeout, timeout > 0 else { badUsage("consent needs --timeout > 0 (no answer is a refusal)") }
    let signalFD = Signals.install()
    do {
        // The helper's words are drawn as they are, control characters made visible.
        let answer = try ConsentWindow(title: visibleText(title), text: visibleText(text), refuseLabel: refuse, acceptLabel: accept, timeout: timeout)
            .run(display: a.display, signalFD: signalFD) { emitLine("ready") }
        emitLine(answer.rawValue)
    } catch {
        fail(error)
    }
    exit(0)
case "assist-banner":
    let a = parse(rest, allowed: ["--display", "--text", "--button", "--style"])
    guard let text = a.text, !text.isEmpty, let button = a.button, !button.isEmpty else { badUsage("assist-banner needs --text and --button") }
    guard let style = Indicator.Style(rawValue: a.style ?? "notice") else { badUsage("assist-banner --style is notice or control") }
    let signalFD = Signals.install()
    do {
        try AssistBanner(text: text, buttonLabel: button, style: style)
            .run(display: a.display, signalFD: signalFD, onReady: { emitLine("ready") }, onStop: { emitLine("stop") })
    } catch {
        fail(error)
    }
    exit(0)
case "notice":
    let a = parse(rest, allowed: ["--display", "--title", "--text", "--timeout"])
    guard let title = a.title else { badUsage("notice needs --title") }
    guard let text = a.text else { badUsage("notice needs --text") }
    let signalFD = Signals.install()
    do {
        _ = try NoticeWindow(title: title, text: text, timeout: a.timeout ?? 0)
            .run(display: a.display, signalFD: signalFD) { emitLine("ready") }
    } catch {
        fail(error)
    }
    exit(0)
case "indicator":
    let a = parse(rest, allowed: ["--display", "--text", "--timeout", "--style"])
    guard let text = a.text, !text.isEmpty else { badUsage("indicator needs --text") }
    let timeout = a.timeout ?? 8
    guard timeout > 0 else { badUsage("indicator needs --timeout > 0") }
    guard let style = Indicator.Style(rawValue: a.style ?? "notice") else { badUsage("indicator --style is notice or control") }
    let signalFD = Signals.install()
    do {
        try Indicator(text: text, timeout: timeout, style: style).run(display: a.display, signalFD: signalFD) { emitLine("ready") }
    } catch {
        fail(error)
    }
    exit(0)
case "backdrop":
    let a = parse(rest, allowed: ["--display", "--title"])
    guard let title = a.title else { badUsage("backdrop needs --title") }
    let signalFD = Signals.install()
    do {
        try Backdrop(title: title).run(display: a.display, signalFD: signalFD) { emitLine("ready") }
    } catch {
        fail(error)
    }
    exit(0)
case "countdown":
    let a = parse(rest, allowed: ["--display", "--title", "--text", "--until", "--remaining"])
    guard let title = a.title, let text = a.text, let until = a.until else { badUsage("countdown needs --title, --text and --until") }
    let signalFD = Signals.install()
    do {
        try CountdownWindow(title: title, text: text, until: until, remaining: a.remaining ?? "{remaining}")
            .run(display: a.display, signalFD: signalFD) { emitLine("ready") }
    } catch {
        fail(error)
    }
    exit(0)
case "benchmark":
    let a = parse(rest, allowed: ["--display", "--iterations"])
    do {
        let r = try ScreenBenchmark.run(display: a.display, iterations: a.iterations)
        for key in r.keys.sorted() {
            let v = r[key]!
            let ms = (v * 100).rounded() / 100
            emitLine("\(key) \(v == v.rounded() ? String(Int(v)) : String(ms))")
        }
    } catch {
        fail(error)
    }
    exit(0)
default:
    badUsage("unknown subcommand '\(command)'")
}
