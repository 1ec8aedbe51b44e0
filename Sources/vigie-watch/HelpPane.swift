import Foundation
import NIOConcurrencyHelpers
import VigieCLI
import VigieConsole
import VigieController
import VigieModel
import VigieWire

/// The dashboard's part of assistance, for a person who may assist (technician,
/// admin): the help requests waiting (the school server's, refreshed every few
/// seconds), a code given by the person opens the seat in the page once they
/// accept, control is asked inside it, and the intervention sheet is completed
/// in the page. The server never sees a picture; codes never reach the page
/// from the server (the person gives theirs).
extension Hub {
    /// How often the waiting requests are asked again.
    static let helpRefresh: Duration = .seconds(5)

    /// Whether this person may assist somewhere (the seats and the server decide anyway).
    var mayAssist: Bool {
        guard console.config.server != nil, case .person(_, let role) = console.identity.identity.kind else { return false }
        return role == .technician || role == .admin
    }

    func serverClient() throws -> ServerClient {
        guard let server = console.config.server else { throw Failure.configuration("no [server] section in the configuration") }
        return try ServerClient(server: server, school: console.config.school.id, identity: console.identity)
    }

    /// Asks the server for the waiting requests until the dashboard stops; each
    /// change goes to every page (`{"type":"help","requests":[…]}`).
    func watchHelpRequests() async {
        guard mayAssist else { return }
        var last: [[String: String]]?
        while !Task.isCancelled {
            var requests: [[String: String]]?
            var problem: String?
            do {
                let answer = try await serverClient().call("assist.requests", timeout: .seconds(10))
                if answer.status == .ok {
                    requests = String(decoding: answer.body, as: UTF8.self).split(separator: "\n").compactMap {
                        (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: String]
                    }
                } else if answer.status == .refused {
                    return  // not one who assists: no panel
                } else {
                    problem = Catalog.text(answer.reason, console.language)
                }
            } catch {
                let why = (error as? WireError).map { Catalog.text($0.reason, console.language) } ?? "\(error)"
                problem = Catalog.text(Reason("server.unanswered", ["address": console.config.server?.address ?? "?", "detail": why]), console.language)
            }
            if let requests, requests != last {
                last = requests
                helpState.withLockedValue { $0 = requests }
                broadcastHelp(requests, problem: nil)
            } else if let problem {
                broadcastHelp(helpState.withLockedValue { $0 } ?? [], problem: problem)
            }
            try? await Task.sleep(for: Self.helpRefresh)
        }
    }

    func helpMessage(_ requests: [[String: String]], problem: String?) -> [String: Any] {
        var message: [String: Any] = ["type": "help", "requests": requests]
        if let problem { message["problem"] = problem }
        return message
    }

    private func broadcastHelp(_ requests: [[String: String]], problem: String?) {
        for page in pageKeys() { send(helpMessage(requests, problem: problem), to: page) }
    }

    /// Control inside a page's assistance: the person answers on their screen.
    func askControl(ticket: String, page: UInt64) async {
        guard let pane = remotes.pane(ticket, of: page), let intervention = pane.intervention else { return }
        var reply: [String: Any] = ["type": "assist-control", "ticket": ticket]
        for await result in session.send(.assist, args: ["mode": "control", "intervention": intervention], to: [pane.seat],
                                         timeout: console.timeout + .seconds(70)) {
            reply["status"] = result.status.rawValue
            reply["code"] = result.reason.code
            reply["message"] = Catalog.text(result.reason, console.language)
        }
        send(reply, to: page)
    }

    /// The intervention sheet, completed in the page (`assist.note` on the server).
    func note(_ object: [String: String], page: UInt64) async {
        guard let intervention = object["intervention"] else { return }
        var args = ["intervention": intervention]
        for field in ["problem", "diagnosis", "before", "after", "advice"] {
            if let value = object[field]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty { args[field] = value }
        }
        var reply: [String: Any] = ["type": "note", "intervention": intervention]
        do {
            let answer = try await serverClient().call("assist.note", args: args, timeout: .seconds(20))
            reply["status"] = answer.status.rawValue
            reply["message"] = Catalog.text(answer.reason, console.language)
        } catch {
            let why = (error as? WireError).map { Catalog.text($0.reason, console.language) } ?? "\(error)"
            reply["status"] = "failed"
            reply["message"] = Catalog.text(Reason("server.unanswered", ["address": console.config.server?.address ?? "?", "detail": why]), console.language)
        }
        send(reply, to: page)
    }
}
