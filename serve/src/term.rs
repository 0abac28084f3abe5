//! Text from pages on the terminal: what a page reports (test names, errors, log
//! lines, console output) is printed through [`clean`], so a page cannot move the
//! cursor, recolour or clear the screen, retitle the window, forge output lines or
//! reorder text with bidirectional overrides.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal as it is: control characters (C0 but tab, DEL,
/// C1, which holds the 8-bit CSI), and the bidirectional embeddings, overrides and
/// isolates (U+202A..U+202E, U+2066..U+2069).
fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\t')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// `s` with every character a terminal would act on written as a visible escape:
/// `\x1b` for bytes below U+0100 (ESC, CR, LF, BEL, ...), `\u{202e}` for the others.
/// Line breaks are escaped too: split multi-line text with [`str::lines`] first.
pub fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !unsafe_char(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_kept() {
        let s = "ok   page.html :: a test — 12 ms\t(µs, 日本)";
        assert!(matches!(clean(s), Cow::Borrowed(_)));
        assert_eq!(clean(s), s);
    }

    #[test]
    fn escapes_are_made_visible() {
        assert_eq!(clean("\x1b[2J\x1b[31mred"), "\\x1b[2J\\x1b[31mred");
        assert_eq!(clean("a\rb\nc\x07\x7f"), "a\\x0db\\x0ac\\x07\\x7f");
        assert_eq!(clean("\u{9b}31m"), "\\x9b31m");
        assert_eq!(clean("\x1b]0;title\x07"), "\\x1b]0;title\\x07");
        assert_eq!(clean("abc\u{202e}def"), "abc\\u{202e}def");
        assert_eq!(clean("x\u{2066}y"), "x\\u{2066}y");
    }
}
