import Testing
import Foundation
import VigieModel

let school = "0750001A"
let b204 = Seat(id: "B204-01", room: "B204", host: "127.0.0.1", port: 1, mac: nil)
let cdi = Seat(id: "CDI-01", room: "CDI", host: "127.0.0.1", port: 2, mac: nil)

func config(grants: [Grant] = [], people: [Person] = [], revoked: Set<String> = []) -> SchoolConfig {
    SchoolConfig(
        school: School(id: school, name: "Lycée", language: .fr), revokedSerials: revoked,
        rooms: [
            Room(id: "B204", name: "B204", purpose: .pedagogy, timeZone: "Europe/Paris", seats: [b204]),
            Room(id: "CDI", name: "CDI", purpose: .surveillance, timeZone: "Europe/Paris", seats: [cdi]),
        ],
        grants: grants, people: people, consoleTimeout: 5)
}

func person(_ role: Role, _ login: String = "someone", school s: String = school) -> Identity {
    Identity(schoolID: s, kind: .person(login: login, role: role), displayName: login)
}

let exampleGrants = [
    Grant(role: .teacher, rooms: ["B204"], features: [.lock, .unlock, .message, .screenshot, .thumbnail, .status]),
    Grant(role: .librarian, rooms: ["CDI"], features: [.screenshot, .thumbnail, .message, .lock, .unlock, .status]),
]

@Suite struct PolicyRules {
    @Test func aTeacherMayLockTheirRoomButNotTheLibrary() {
        let c = config(grants: exampleGrants)
        #expect(Policy.decide(identity: person(.teacher), serialHex: "01", feature: .lock, seat: b204, config: c) == .allow)
        #expect(Policy.decide(identity: person(.teacher), serialHex: "01", feature: .lock, seat: cdi, config: c)
            == .refuse(Reason("policy.room", ["role": "teacher", "room": "CDI"])))
    }

    @Test func aRoomWhoseTimeZoneCannotBeResolvedIsNeverWatchedNotWatchedInUTC() {
        // A classroom watched at any hour anywhere else: with a zone this program cannot
        // place in time, its hours mean nothing, so nobody watches (the loader refuses such
        // a config; this is the seat's last line should the time zone data be missing).
        let lost = Seat(id: "X-01", room: "X", host: "127.0.0.1", port: 3, mac: nil)
        var c = config(grants: exampleGrants)
        c.rooms.append(Room(id: "X", name: "X", purpose: .pedagogy, timeZone: "Mars/Olympus_Mons", seats: [lost]))
        let verdict = c.room("X")!.monitoring(at: Date())
        #expect(!verdict.allowed)
        #expect(verdict.why == .unknownTimeZone)
        let d = Policy.decide(identity: person(.admin), serialHex: "01", feature: .screenshot, seat: lost, config: c)
        #expect(d == .refuse(Reason("policy.time-zone-unknown", ["room": "X", "zone": "Mars/Olympus_Mons"])))
        // Not a monitoring feature: the lock still works there.
        #expect(Policy.decide(identity: person(.admin), serialHex: "01", feature: .lock, seat: lost, config: c) == .allow)
        #expect(Catalog.text(Reason("policy.time-zone-unknown", ["room": "X", "zone": "Mars/Olympus_Mons"]), .fr).contains("« Mars/Olympus_Mons »"))
    }

    @Test func aLibrarianCannotLockAClassroom() {
        let c = config(grants: exampleGrants)
        let d = Policy.decide(identity: person(.librarian), serialHex: "01", feature: .lock, seat: b204, config: c)
        #expect(d == .refuse(Reason("policy.room", ["role": "librarian", "room": "B204"])))
    }

    @Test func theHeadHasNoSeatFeatureByDefault() {
        for feature in Feature.allCases {
            let d = Policy.decide(identity: person(.head), serialHex: "01", feature: feature, seat: cdi, config: config())
            #expect(d == .refuse(Reason("policy.role", ["role": "head"])))
        }
    }

    @Test func anAdminMayDoEverythingEverywhereByDefaultButWatchOnlyInTheWindows() {
        for feature in Feature.allCases {
            #expect(Policy.decide(identity: person(.admin), serialHex: "01", feature: feature, seat: b204, config: config()) == .allow)
            let inLibrary = Policy.decide(identity: person(.admin), serialHex: "01", feature: feature, seat: cdi, config: config())
            if feature == .control {
                // Nobody takes control of a library seat: its posters announce monitoring only.
                #expect(inLibrary == .refuse(Reason("policy.control-room", ["room": "CDI"])))
            } else if feature.isMonitoring {
                // This library posts no window at all: nobody may watch it, an admin neither.
                if case .refuse(let r) = inLibrary { #expect(r.code == "policy.time-window") } else { Issue.record("\(feature) allowed") }
            } else {
                #expect(inLibrary == .allow)
            }
        }
    }

    @Test func aFeatureOutsideTheGrantIsRefusedWithItsName() {
        let c = config(grants: [Grant(role: .librarian, rooms: ["CDI"], features: [.message])])
        #expect(Policy.decide(identity: person(.librarian), serialHex: "01", feature: .screenshot, seat: cdi, config: c)
            == .refuse(Reason("policy.feature", ["role": "librarian", "room": "CDI", "feature": "screenshot"])))
    }

    @Test func aNamedPersonCanBeNarrowedToSomeRooms() {
        let c = config(people: [Person(login: "pdupont", name: nil, rooms: ["B204"])])
        #expect(Policy.decide(identity: person(.teacher, "pdupont"), serialHex: "01", feature: .lock, seat: b204, config: c) == .allow)
        #expect(Policy.decide(identity: person(.teacher, "pdupont"), serialHex: "01", feature: .lock, seat: cdi, config: c)
            == .refuse(Reason("policy.person-room", ["login": "pdupont", "room": "CDI"])))
        #expect(Policy.decide(identity: person(.teacher, "other"), serialHex: "01", feature: .lock, seat: cdi, config: c) == .allow)
    }

    @Test func revokedOtherSchoolAndMachineCertificatesAreRefusedFirst() {
        let c = config(revoked: ["abcd"])
        #expect(Policy.decide(identity: person(.admin), serialHex: "00ABCD", feature: .lock, seat: b204, config: c)
            == .refuse(Reason("auth.revoked", ["serial": "00ABCD"])))
        #expect(Policy.decide(identity: person(.admin, school: "0690001B"), serialHex: "01", feature: .lock, seat: b204, config: c)
            == .refuse(Reason("auth.other-school", ["school": "0690001B"])))
        let seat = Identity(schoolID: school, kind: .seat(id: "B204-02"), displayName: "B204-02")
        if case .refuse(let r) = Policy.decide(identity: seat, serialHex: "01", feature: .lock, seat: b204, config: c) {
            #expect(r.code == "auth.not-a-person")
        } else {
            Issue.record("a seat certificate must not act as a person")
        }
    }

    @Test func allMeansTheSeatsTheIdentityMayReach() {
        let c = config(grants: exampleGrants)
        #expect(Policy.reachableSeats(for: person(.teacher), in: c).map(\.id) == ["B204-01"])
        #expect(Policy.reachableSeats(for: person(.librarian), in: c).map(\.id) == ["CDI-01"])
        #expect(Policy.reachableSeats(for: person(.head), in: c).isEmpty)
        #expect(Policy.reachableSeats(for: person(.admin), in: c).map(\.id) == ["B204-01", "CDI-01"])
    }
}

@Suite struct Identities {
    @Test func urisRoundTrip() {
        let ids = [
            Identity(schoolID: school, kind: .seat(id: "B204-02"), displayName: "B204-02"),
            Identity(schoolID: school, kind: .server(name: "vigie"), displayName: "vigie"),
            Identity(schoolID: school, kind: .person(login: "mmartin", role: .librarian), displayName: "Mme Martin"),
        ]
        for id in ids { #expect(Identity.parse(uri: id.uri, displayName: id.displayName) == id) }
    }

    @Test func malformedUrisAreRejected() {
        for uri in ["https://x/seat/a", "vigie://S/seat", "vigie://S/person/pupil/x", "vigie://S/seat/a b", "vigie:///seat/a", "vigie://S/seat/a/b"] {
            #expect(Identity.parse(uri: uri, displayName: "") == nil, "\(uri)")
        }
    }
}

@Suite struct Wording {
    @Test func everyCodeHasBothLanguagesAndUsesItsParameters() {
        for (code, pair) in Catalog.templates {
            #expect(!pair.fr.isEmpty && !pair.en.isEmpty, "\(code)")
            let placeholders = { (s: String) in
                Set(s.split(separator: "{", omittingEmptySubsequences: false).dropFirst().compactMap { $0.split(separator: "}").first.map(String.init) })
            }
            #expect(placeholders(pair.fr) == placeholders(pair.en), "\(code): French and English use other parameters")
        }
    }

    @Test func reasonsAreWordedWithAccentsAndApostrophes() {
        #expect(Catalog.text(Reason("lock.done-until", ["until": "10:22"]), .fr) == "poste verrouillé jusqu’à 10:22")
        #expect(Catalog.text(Reason("lock.done-until", ["until": "10:22"]), .en) == "seat locked until 10:22")
        #expect(Catalog.text(Reason("some.future-code", ["n": "1"]), .fr) == "some.future-code (n=1)")
    }

    @Test func seatTextsSayWhoAndWhenInTheRoomsTime() {
        let texts = SeatTexts(language: .fr, timeZoneID: "Europe/Paris")
        let who = Identity(schoolID: school, kind: .person(login: "mmartin", role: .librarian), displayName: "Mme Martin")
        // 2026-11-23 09:02 UTC is 10:02 in Paris (winter time).
        let date = Date(timeIntervalSince1970: 1_795_424_520)
        #expect(texts.lockLines(by: who, at: date, until: nil) == ["par Mme Martin (professeur documentaliste) à 10:02"])
    }
}

import Foundation

@Suite struct AssistanceHours {
    /// `[[assistance.hours]]`: assistance only in office hours, in the room's time; the
    /// grants still decide who.
    @Test func anAssistanceIsRefusedOutsideTheSchoolsAssistanceHours() throws {
        var c = config(grants: [Grant(role: .technician, rooms: ["B204"], features: [.assist])])
        c.assistance.hours = [WeeklySlot(days: [.monday, .tuesday, .wednesday, .thursday, .friday], span: DaySpan(from: try #require(TimeOfDay("08:00")), to: try #require(TimeOfDay("18:00"))))]
        let tech = person(.technician)
        // Monday 2026-11-23, Paris: 10:00 is inside, 19:30 and Saturday are not.
        let monday10 = Date(timeIntervalSince1970: 1_795_424_400)  // 2026-11-23T09:00:00Z = 10:00 Paris
        #expect(Policy.decide(identity: tech, serialHex: "01", feature: .assist, seat: b204, config: c, at: monday10) == .allow)
        let refused = Reason("assist.hours", ["hours": "mon-fri 08:00–18:00"])
        #expect(Policy.decide(identity: tech, serialHex: "01", feature: .assist, seat: b204, config: c,
                              at: monday10.addingTimeInterval(9.5 * 3600)) == .refuse(refused))
        #expect(Policy.decide(identity: tech, serialHex: "01", feature: .assist, seat: b204, config: c,
                              at: monday10.addingTimeInterval(5 * 86_400)) == .refuse(refused))
        // Other features are not assistance: the hours do not apply to them.
        c.grants.append(Grant(role: .technician, rooms: ["B204"], features: [.status]))
        #expect(Policy.decide(identity: tech, serialHex: "01", feature: .status, seat: b204, config: c,
                              at: monday10.addingTimeInterval(9.5 * 3600)) == .allow)
    }
}
