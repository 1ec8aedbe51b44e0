import Testing
import VigieScreen

@Suite struct VisibleTextTests {
    @Test func controlsAndBidiOverridesAreDrawnAsSymbols() {
        #expect(visibleText("Rangez vos affaires — merci ! L’équipe\nà demain") == "Rangez vos affaires — merci ! L’équipe\nà demain")
        #expect(visibleText("a\u{1B}[31mb\u{07}c\td\re\u{7F}") == "a␛[31mb␇c␉d␍e␡")
        #expect(visibleText("\u{202E}exe.txt\u{2066}x\u{2069}\u{85}") == "\\u{202E}exe.txt\\u{2066}x\\u{2069}\\u{0085}")
    }
}
