//! Which characters a person can see: what makes a name or a message more than blank.
//!
//! A name or message made only of characters that draw nothing (a zero-width space, a
//! bidi mark, a Hangul filler, a lone accent) would reach the agent as an invisible name
//! or an empty bubble. [`is_invisible`] names those characters by Unicode property; the
//! forms refuse text that holds nothing else.

/// Whether `c` draws nothing on its own (Unicode 17):
///
/// - `White_Space` (the `Zs`, `Zl` and `Zp` spaces and separators, tab, line breaks);
/// - `Cc`, the controls;
/// - `Cf`, the format characters (zero-width space, joiners, soft hyphen, word joiner,
///   byte order mark, bidi marks, embeddings, overrides and isolates, invisible operators,
///   interlinear annotation, tags...), except the prepended concatenation marks such as
///   U+0600 ARABIC NUMBER SIGN, which draw a sign;
/// - the rest of `Default_Ignorable_Code_Point`: variation selectors, the Mongolian free
///   variation selectors, the combining grapheme joiner, Khmer's inherent vowels and the
///   Hangul fillers (U+115F, U+1160, U+3164, U+FFA0), which fonts draw as blank letters;
/// - U+2800 BRAILLE PATTERN BLANK, a symbol that is drawn as a space;
/// - `M` (`Mn`, `Mc`, `Me`), the combining marks, which need a base to be read: text
///   that is only marks has no letter for them to sit on.
///
/// Inside visible text these are all fine (a joiner in an emoji, a mark around Arabic
/// text, accents): only text without any other character is refused.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{115F}'..='\u{1160}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
        || is_mark(c)
}

/// Whether `text` holds no character a person can see (see [`is_invisible`]); the empty
/// text is blank.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(is_invisible)
}

/// Whether `c` is a combining mark (`General_Category=Mark`).
fn is_mark(c: char) -> bool {
    let c = u32::from(c);
    let i = MARKS.partition_point(|&r| r >> 8 <= c);
    i > 0 && c - (MARKS[i - 1] >> 8) <= MARKS[i - 1] & 0xFF
}

/// The ranges of `General_Category=Mark` in Unicode 17, in order, each packed into one
/// word as `first << 8 | (last - first)` (no range is longer than 256: 1.3 KB in all).
/// Made with the Python `regex` module (Unicode 17 in its 2026 releases):
///
/// ```text
/// import regex
/// runs, first = [], None
/// for c in range(0x110001):
///     mark = c <= 0x10FFFF and not 0xD800 <= c <= 0xDFFF and regex.match(r"\p{M}", chr(c))
///     if mark and first is None: first = c
///     if not mark and first is not None: runs.append(first << 8 | (c - 1 - first)); first = None
/// print(", ".join(f"0x{r:07X}" for r in runs))
/// ```
///
/// Made again when the toolchain moves to another Unicode version (`char::UNICODE_VERSION`,
/// which a test pins).
#[rustfmt::skip]
const MARKS: [u32; 327] = [
    0x003006F, 0x0048306, 0x005912C, 0x005BF00, 0x005C101, 0x005C401, 0x005C700, 0x006100A,
    0x0064B14, 0x0067000, 0x006D606, 0x006DF05, 0x006E701, 0x006EA03, 0x0071100, 0x007301A,
    0x007A60A, 0x007EB08, 0x007FD00, 0x0081603, 0x0081B08, 0x0082502, 0x0082904, 0x0085902,
    0x0089708, 0x008CA17, 0x008E320, 0x0093A02, 0x0093E11, 0x0095106, 0x0096201, 0x0098102,
    0x009BC00, 0x009BE06, 0x009C701, 0x009CB02, 0x009D700, 0x009E201, 0x009FE00, 0x00A0102,
    0x00A3C00, 0x00A3E04, 0x00A4701, 0x00A4B02, 0x00A5100, 0x00A7001, 0x00A7500, 0x00A8102,
    0x00ABC00, 0x00ABE07, 0x00AC702, 0x00ACB02, 0x00AE201, 0x00AFA05, 0x00B0102, 0x00B3C00,
    0x00B3E06, 0x00B4701, 0x00B4B02, 0x00B5502, 0x00B6201, 0x00B8200, 0x00BBE04, 0x00BC602,
    0x00BCA03, 0x00BD700, 0x00C0004, 0x00C3C00, 0x00C3E06, 0x00C4602, 0x00C4A03, 0x00C5501,
    0x00C6201, 0x00C8102, 0x00CBC00, 0x00CBE06, 0x00CC602, 0x00CCA03, 0x00CD501, 0x00CE201,
    0x00CF300, 0x00D0003, 0x00D3B01, 0x00D3E06, 0x00D4602, 0x00D4A03, 0x00D5700, 0x00D6201,
    0x00D8102, 0x00DCA00, 0x00DCF05, 0x00DD600, 0x00DD807, 0x00DF201, 0x00E3100, 0x00E3406,
    0x00E4707, 0x00EB100, 0x00EB408, 0x00EC806, 0x00F1801, 0x00F3500, 0x00F3700, 0x00F3900,
    0x00F3E01, 0x00F7113, 0x00F8601, 0x00F8D0A, 0x00F9923, 0x00FC600, 0x0102B13, 0x0105603,
    0x0105E02, 0x0106202, 0x0106706, 0x0107103, 0x010820B, 0x0108F00, 0x0109A03, 0x0135D02,
    0x0171203, 0x0173202, 0x0175201, 0x0177201, 0x017B41F, 0x017DD00, 0x0180B02, 0x0180F00,
    0x0188501, 0x018A900, 0x019200B, 0x019300B, 0x01A1704, 0x01A5509, 0x01A601C, 0x01A7F00,
    0x01AB02D, 0x01AE00B, 0x01B0004, 0x01B3410, 0x01B6B08, 0x01B8002, 0x01BA10C, 0x01BE60D,
    0x01C2413, 0x01CD002, 0x01CD414, 0x01CED00, 0x01CF400, 0x01CF702, 0x01DC03F, 0x020D020,
    0x02CEF02, 0x02D7F00, 0x02DE01F, 0x0302A05, 0x0309901, 0x0A66F03, 0x0A67409, 0x0A69E01,
    0x0A6F001, 0x0A80200, 0x0A80600, 0x0A80B00, 0x0A82304, 0x0A82C00, 0x0A88001, 0x0A8B411,
    0x0A8E011, 0x0A8FF00, 0x0A92607, 0x0A9470C, 0x0A98003, 0x0A9B30D, 0x0A9E500, 0x0AA290D,
    0x0AA4300, 0x0AA4C01, 0x0AA7B02, 0x0AAB000, 0x0AAB202, 0x0AAB701, 0x0AABE01, 0x0AAC100,
    0x0AAEB04, 0x0AAF501, 0x0ABE307, 0x0ABEC01, 0x0FB1E00, 0x0FE000F, 0x0FE200F, 0x101FD00,
    0x102E000, 0x1037604, 0x10A0102, 0x10A0501, 0x10A0C03, 0x10A3802, 0x10A3F00, 0x10AE501,
    0x10D2403, 0x10D6904, 0x10EAB01, 0x10EFA05, 0x10F460A, 0x10F8203, 0x1100002, 0x110380E,
    0x1107000, 0x1107301, 0x1107F03, 0x110B00A, 0x110C200, 0x1110002, 0x111270D, 0x1114501,
    0x1117300, 0x1118002, 0x111B30D, 0x111C903, 0x111CE01, 0x1122C0B, 0x1123E00, 0x1124100,
    0x112DF0B, 0x1130003, 0x1133B01, 0x1133E06, 0x1134701, 0x1134B02, 0x1135700, 0x1136201,
    0x1136606, 0x1137004, 0x113B808, 0x113C200, 0x113C500, 0x113C703, 0x113CC04, 0x113D200,
    0x113E101, 0x1143511, 0x1145E00, 0x114B013, 0x115AF06, 0x115B808, 0x115DC01, 0x1163010,
    0x116AB0C, 0x1171D0E, 0x1182C0E, 0x1193005, 0x1193701, 0x1193B03, 0x1194000, 0x1194201,
    0x119D106, 0x119DA06, 0x119E400, 0x11A0109, 0x11A3306, 0x11A3B03, 0x11A4700, 0x11A510A,
    0x11A8A0F, 0x11B6007, 0x11C2F07, 0x11C3807, 0x11C9215, 0x11CA90D, 0x11D3105, 0x11D3A00,
    0x11D3C01, 0x11D3F06, 0x11D4700, 0x11D8A04, 0x11D9001, 0x11D9304, 0x11EF303, 0x11F0001,
    0x11F0300, 0x11F3406, 0x11F3E04, 0x11F5A00, 0x1344000, 0x134470E, 0x1611E11, 0x16AF004,
    0x16B3006, 0x16F4F00, 0x16F5136, 0x16F8F03, 0x16FE400, 0x16FF001, 0x1BC9D01, 0x1CF002D,
    0x1CF3016, 0x1D16504, 0x1D16D05, 0x1D17B07, 0x1D18506, 0x1D1AA03, 0x1D24202, 0x1DA0036,
    0x1DA3B31, 0x1DA7500, 0x1DA8400, 0x1DA9B04, 0x1DAA10E, 0x1E00006, 0x1E00810, 0x1E01B06,
    0x1E02301, 0x1E02604, 0x1E08F00, 0x1E13006, 0x1E2AE00, 0x1E2EC03, 0x1E4EC03, 0x1E5EE01,
    0x1E6E300, 0x1E6E600, 0x1E6EE01, 0x1E6F500, 0x1E8D006, 0x1E94406, 0xE0100EF,
];

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn the_table_is_for_this_unicode() {
        assert_eq!(
            char::UNICODE_VERSION,
            (17, 0, 0),
            "make MARKS again for this Unicode version (see its docs)"
        );
        assert!(
            MARKS
                .windows(2)
                .all(|w| (w[0] >> 8) + (w[0] & 0xFF) < w[1] >> 8)
        );
    }

    #[test]
    fn invisible_by_category() {
        let cases: &[(&str, &[char])] = &[
            (
                "White_Space",
                &[
                    ' ', '\t', '\n', '\u{0B}', '\u{0C}', '\r', '\u{85}', '\u{A0}', '\u{1680}',
                    '\u{2000}', '\u{2007}', '\u{200A}', '\u{2028}', '\u{2029}', '\u{202F}',
                    '\u{205F}', '\u{3000}',
                ],
            ),
            ("Cc", &['\u{0}', '\u{7}', '\u{1B}', '\u{7F}', '\u{9F}']),
            (
                "Cf: zero-width, joiners, soft hyphen, BOM",
                &[
                    '\u{AD}', '\u{180E}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}',
                    '\u{2061}', '\u{2064}', '\u{FEFF}',
                ],
            ),
            (
                "Cf: bidi marks, embeddings, overrides, isolates",
                &[
                    '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}',
                    '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
                ],
            ),
            (
                "Cf: deprecated formats, annotations, shorthand, music, tags",
                &[
                    '\u{206A}',
                    '\u{206F}',
                    '\u{FFF9}',
                    '\u{FFFB}',
                    '\u{13430}',
                    '\u{1BCA0}',
                    '\u{1D173}',
                    '\u{E0001}',
                    '\u{E0020}',
                    '\u{E007F}',
                ],
            ),
            (
                "Default_Ignorable_Code_Point: variation selectors",
                &[
                    '\u{180B}',
                    '\u{180F}',
                    '\u{FE00}',
                    '\u{FE0F}',
                    '\u{E0100}',
                    '\u{E01EF}',
                ],
            ),
            (
                "blank letters and symbols: Hangul fillers, braille blank",
                &['\u{115F}', '\u{1160}', '\u{3164}', '\u{FFA0}', '\u{2800}'],
            ),
            (
                "M: combining marks",
                &[
                    '\u{300}',
                    '\u{301}',
                    '\u{36F}',
                    '\u{34F}',
                    '\u{483}',
                    '\u{488}',
                    '\u{591}',
                    '\u{64B}',
                    '\u{670}',
                    '\u{903}',
                    '\u{93C}',
                    '\u{E31}',
                    '\u{17B4}',
                    '\u{1AB0}',
                    '\u{1DC0}',
                    '\u{20D0}',
                    '\u{20DD}',
                    '\u{20E3}',
                    '\u{FE20}',
                    '\u{101FD}',
                    '\u{1D165}',
                    '\u{1E5EE}',
                ],
            ),
        ];
        for (category, chars) in cases {
            for &c in *chars {
                assert!(is_invisible(c), "{category}: U+{:04X}", u32::from(c));
                let alone = c.to_string();
                assert!(is_blank(&alone), "{category}: U+{:04X}", u32::from(c));
                assert!(
                    is_blank(&alone.repeat(3)),
                    "{category}: U+{:04X}",
                    u32::from(c)
                );
            }
        }
        assert!(is_blank(""));
        assert!(is_blank("\u{200B}\u{200D}\u{FE0F} \u{3000}\u{2800}\u{301}"));
    }

    #[test]
    fn visible() {
        // Letters, digits, symbols and emoji of any script; the prepended concatenation
        // marks (`Cf`, but drawn); the neighbours of the ranges above.
        for c in [
            'a',
            'Z',
            '0',
            '.',
            '-',
            '_',
            '<',
            'é',
            'ß',
            'Ж',
            'ع',
            'א',
            'न',
            'ก',
            '中',
            'ア',
            '한',
            '😀',
            '❤',
            '\u{1F1E9}',
            '\u{FFFD}',
            '\u{FFFC}',
            '\u{E000}',
            '\u{0600}',
            '\u{06DD}',
            '\u{110BD}',
            '\u{2FF}',
            '\u{370}',
            '\u{115E}',
            '\u{1161}',
            '\u{2801}',
            '\u{3163}',
            '\u{1D16A}',
        ] {
            assert!(!is_invisible(c), "U+{:04X}", u32::from(c));
        }
        for text in [
            "Ann",
            "e\u{301}",
            "\u{200F}مرحبا\u{200F}",
            "👩\u{200D}💻",
            "1\u{FE0F}\u{20E3}",
            "\u{200B}x\u{200B}",
            "李",
        ] {
            assert!(!is_blank(text), "{text:?}");
        }
    }
}
