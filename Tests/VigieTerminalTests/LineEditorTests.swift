import Testing
import VigieTerminal

@Suite struct LineEditorTests {
    func typed(_ text: String, into editor: inout LineEditor) {
        _ = editor.feed(Array(text.utf8))
    }

    @Test func typingAndEnterGiveTheLineAndKeepItInTheHistory() {
        var editor = LineEditor()
        typed("lock --for 20m", into: &editor)
        #expect(editor.line == "lock --for 20m")
        #expect(editor.feed(0x0D) == .line("lock --for 20m"))
        #expect(editor.line.isEmpty)
        #expect(editor.history == ["lock --for 20m"])
    }

    @Test func accentsAreOneCharacterEach() {
        var editor = LineEditor()
        typed("message Été", into: &editor)
        #expect(editor.line == "message Été")
        #expect(editor.cursor == 11)
        _ = editor.feed(0x7F)  // backspace removes é (two bytes), not half of it
        #expect(editor.line == "message Ét")
    }

    @Test func arrowsHomeEndAndDeleteEditInPlace() {
        var editor = LineEditor()
        typed("unlok", into: &editor)
        typed("\u{1B}[D", into: &editor)  // ←
        typed("c", into: &editor)
        #expect(editor.line == "unlock")
        _ = editor.feed(0x01)  // Ctrl-A
        #expect(editor.cursor == 0)
        typed("\u{1B}[3~", into: &editor)  // Delete
        #expect(editor.line == "nlock")
        typed("\u{1B}[F", into: &editor)  // End
        #expect(editor.cursor == 5)
    }

    @Test func killWordAndKillLine() {
        var editor = LineEditor()
        typed("message Bonjour tout le monde", into: &editor)
        _ = editor.feed(0x17)  // Ctrl-W
        #expect(editor.line == "message Bonjour tout le ")
        _ = editor.feed(0x15)  // Ctrl-U
        #expect(editor.line.isEmpty)
        typed("status now", into: &editor)
        typed("\u{1B}b", into: &editor)  // Alt-B: word back
        _ = editor.feed(0x0B)  // Ctrl-K
        #expect(editor.line == "status ")
    }

    @Test func historyGoesBackAndForthAndKeepsTheDraft() {
        var editor = LineEditor(history: ["lock", "status"])
        typed("mess", into: &editor)
        typed("\u{1B}[A", into: &editor)
        #expect(editor.line == "status")
        typed("\u{1B}[A", into: &editor)
        #expect(editor.line == "lock")
        #expect(editor.feed(0x10) == .bell)  // Ctrl-P at the oldest
        typed("\u{1B}[B\u{1B}[B", into: &editor)
        #expect(editor.line == "mess")
    }

    @Test func ctrlDOnAnEmptyLineEndsInputAndCtrlCDropsTheLine() {
        var editor = LineEditor()
        typed("lock", into: &editor)
        #expect(editor.feed(0x03) == .interrupt)
        #expect(editor.line.isEmpty)
        #expect(editor.feed(0x04) == .endOfInput)
    }

    @Test func renderPutsTheCursorBackAndScrollsLongLines() {
        var editor = LineEditor()
        typed("abcdef", into: &editor)
        typed("\u{1B}[D\u{1B}[D", into: &editor)
        #expect(editor.render(prompt: "> ", columns: 80) == "\r> abcdef\u{1B}[K\u{1B}[2D")
        var long = LineEditor()
        typed(String(repeating: "x", count: 100) + "END", into: &long)
        let drawn = long.render(prompt: "> ", columns: 40)
        #expect(drawn.hasPrefix("\r> "))
        #expect(drawn.contains("END"))
        #expect(drawn.count < 50)
    }
}
