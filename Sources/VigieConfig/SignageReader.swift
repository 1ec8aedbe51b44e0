import Foundation
import TOMLKit
import VigieModel

extension Reader {
    /// Reads the optional `[signage]` section:
    ///
    /// ```toml
    /// [signage]
    /// reminder = "RAPPEL : …"                      # one text for every language…
    /// reminder = { fr = "RAPPEL : …", en = "…" }   # …or one per language
    /// login_notice_seconds = 20
    /// indicator_seconds = 8
    /// ```
    mutating func readSignage(_ root: TOMLTable) -> SignageSettings {
        var settings = SignageSettings()
        guard let value = root["signage"] else { return settings }
        guard let t = value.table else {
            fail("signage", "must be a table ([signage])")
            return settings
        }
        checkKeys(t, "signage", allowed: ["reminder", "login_notice_seconds", "indicator_seconds"])

        if let r = t["reminder"] {
            if let text = r.string {
                if let checked = reminderText(text, "signage.reminder") {
                    for language in Language.allCases { settings.reminder[language] = checked }
                }
            } else if let perLanguage = r.table {
                checkKeys(perLanguage, "signage.reminder", allowed: Set(Language.allCases.map(\.rawValue)))
                for language in Language.allCases {
                    guard let v = perLanguage[language.rawValue] else { continue }
                    let field = "signage.reminder.\(language.rawValue)"
                    guard let text = v.string else {
                        fail(field, "must be a text in quotes")
                        continue
                    }
                    settings.reminder[language] = reminderText(text, field)
                }
            } else {
                fail("signage.reminder", "must be a text in quotes, or one per language: { fr = \"…\", en = \"…\" }")
            }
        }
        if let s = seconds(t, "login_notice_seconds", allowZero: true) { settings.loginNoticeSeconds = s }
        if let s = seconds(t, "indicator_seconds", allowZero: false) { settings.indicatorSeconds = s }
        return settings
    }

    /// A reminder line: not blank, one line (it is printed as one paragraph).
    private mutating func reminderText(_ text: String, _ field: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty {
            fail(field, "is empty (remove the line to print no reminder)")
            return nil
        }
        if trimmed.contains(where: \.isNewline) {
            fail(field, "must be one line (the poster sets it as one paragraph)")
            return nil
        }
        return trimmed
    }

    /// A number of seconds between 0 (or 1) and 3600.
    private mutating func seconds(_ t: TOMLTable, _ key: String, allowZero: Bool) -> Double? {
        guard let v = t[key] else { return nil }
        let field = "signage.\(key)"
        guard let d = v.double ?? v.int.map(Double.init), d.isFinite, d <= 3600, allowZero ? d >= 0 : d >= 1 else {
            fail(field, allowZero
                 ? "must be a number of seconds between 0 (until dismissed) and 3600"
                 : "must be a number of seconds between 1 and 3600")
            return nil
        }
        return d
    }
}
