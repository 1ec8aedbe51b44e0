import VigieModel

/// The values a template can use (documented in `Signage/README.md`).
enum SignageContext {
    static func values(_ facts: SignageFacts, config: SchoolConfig, language lang: Language) -> [String: Any] {
        let groups = facts.groups
        let hours: [[String: Any]] = groups.enumerated().map { i, g in
            [
                "days": SignageWords.days(g.days, lang), "spans": SignageWords.spans(g.spans, lang),
                "span_list": g.spans.enumerated().map { j, s in
                    ["text": SignageWords.spans([s], lang), "last": j == g.spans.count - 1] as [String: Any]
                },
                "last": i == groups.count - 1,
            ]
        }
        let watchers = facts.watchers.map { SignageWords.rolePhrase($0, lang) }
        return [
            "lang": lang.rawValue,
            "school": config.school.name,
            "room": facts.room.name,
            "room_id": facts.room.id,
            "library": facts.room.purpose == .surveillance,
            "classroom": facts.room.purpose == .pedagogy,
            "lists_hours": facts.listsHours && !groups.isEmpty,
            "never_watched": facts.listsHours && groups.isEmpty,
            "uniform": facts.uniform,
            "hours": hours,
            "week": SignageWords.week(facts, lang),
            "watchers": SignageWords.list(watchers, lang),
            "watcher_list": facts.watchers.map { ["name": SignageWords.role($0, lang)] },
            "reminder": config.signage.reminder(in: lang) as Any? ?? false,
            "notice_seconds": Int(config.signage.loginNoticeSeconds),
            "indicator_seconds": Int(config.signage.indicatorSeconds),
        ]
    }

    /// Every key at any depth of `context`: a tag may use any of them.
    static func names(in context: [String: Any]) -> Set<String> {
        var out = Set<String>()
        func walk(_ v: Any) {
            if let d = v as? [String: Any] {
                for (k, child) in d {
                    out.insert(k)
                    walk(child)
                }
            } else if let a = v as? [[String: Any]] {
                a.forEach(walk)
            }
        }
        walk(context)
        return out
    }
}
