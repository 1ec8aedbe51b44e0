// vigie-register-helper append JOURNAL SCHOOL SEAT COUNT
//     Appends COUNT events to the seat journal and prints "seq hash" on stdout
//     (unbuffered) as soon as each append has returned: a test kills it with
//     SIGKILL at a random moment and checks that every printed event is there.
// vigie-register-helper prune JOURNAL SCHOOL SEAT DAYS
//     Prunes the content of acknowledged events older than DAYS days (0: all of
//     them), as the agent does after the seat retention, and prints how many.
// vigie-register-helper verify JOURNAL SCHOOL SEAT
//     Checks the journal's chain (pruned events included) and prints
//     "ok EVENTS PRUNED", or the first problem with exit status 1.
// vigie-register-helper bench SEATS EVENTS_PER_SEAT [BATCH]
//     Runs RegisterBenchmark and prints its figures.
import Foundation
import VigieRegister
import VigieStore

#if canImport(Glibc)
import Glibc
#endif

func say(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

let args = CommandLine.arguments
switch args.dropFirst().first {
case "append" where args.count == 6:
    let journal = try SeatJournal(path: args[2], school: args[3], seat: args[4])
    let count = Int(args[5]) ?? 0
    for i in 0..<count {
        let event = RegisterEvent(
            school: args[3], seat: args[4], date: Date(), timeZone: TimeZone(identifier: "Europe/Paris")!, room: "B204",
            actor: "vigie://\(args[3])/person/teacher/mmartin", actorName: "Mme Martin", actorRole: "teacher",
            feature: "message", args: ["text": "message n° \(i)"], outcome: .done, code: "message.shown",
            sessionUser: "eleve01")
        let chained = try journal.append(event)
        say("\(chained.seq) \(chained.hash)")
    }
case "prune" where args.count == 6:
    let journal = try SeatJournal(path: args[2], school: args[3], seat: args[4])
    print(try journal.pruneAcknowledged(olderThan: Date().addingTimeInterval(-(Double(args[5]) ?? 0) * 86_400)))
case "verify" where args.count == 5:
    let journal = try SeatJournal(path: args[2], school: args[3], seat: args[4])
    do {
        try journal.verifyChain()
        print("ok \(journal.count) \(journal.count - journal.contentCount)")
    } catch {
        print("\(error)")
        exit(1)
    }
case "bench" where args.count >= 4:
    let result = try RegisterBenchmark.run(
        seats: Int(args[2])!, eventsPerSeat: Int(args[3])!, batchSize: args.count > 4 ? Int(args[4])! : 200,
        progress: { FileHandle.standardError.write(Data(("… " + $0 + "\n").utf8)) })
    print(result)
default:
    FileHandle.standardError.write(Data("usage: vigie-register-helper append JOURNAL SCHOOL SEAT COUNT | prune JOURNAL SCHOOL SEAT DAYS | verify JOURNAL SCHOOL SEAT | bench SEATS EVENTS [BATCH]\n".utf8))
    exit(2)
}
