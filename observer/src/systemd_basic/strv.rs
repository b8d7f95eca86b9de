//! Mirrors systemd's src/basic/strv.c `strv_split_newlines()`, with the rules of
//! src/basic/extract-word.c `extract_first_word()` it splits by: how a notify payload becomes
//! lines.

/// `strv_split_newlines()` → `extract_first_word(&p, &w, NEWLINE, 0)` in a loop.
pub fn split_newlines(s: &[u8]) -> (Vec<Vec<u8>>, Option<String>) {
    let is_sep = |c: u8| c == b'\n' || c == b'\r';
    let (mut out, mut err, mut i) = (Vec::new(), None, 0);
    loop {
        // Leading separators are skipped; this is what swallows empty lines and CRLF.
        while i < s.len() && is_sep(s[i]) {
            i += 1;
        }
        if i >= s.len() {
            return (out, err);
        }
        let mut word = Vec::new();
        while i < s.len() && !is_sep(s[i]) {
            if s[i] == b'\\' {
                if i + 1 == s.len() {
                    // extract-word.c:88: a trailing backslash without EXTRACT_RELAX is -EINVAL.
                    err = Some(
                        "payload ends in a lone backslash (extract_first_word() -EINVAL)".into(),
                    );
                    word.push(b'\\');
                    i += 1;
                    break;
                }
                // Without EXTRACT_CUNESCAPE the escaped byte is copied as is, separators included.
                word.push(s[i + 1]);
                i += 2;
                continue;
            }
            word.push(s[i]);
            i += 1;
        }
        out.push(word);
    }
}
