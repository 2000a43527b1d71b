//! The parts of a URL the engine decodes, as it decodes them: percent
//! escapes (in path parameters and channel ids) and query strings (of
//! `http` requests and of channel sockets).

use std::collections::BTreeMap;

/// A query string as `application/x-www-form-urlencoded` pairs (the last of
/// a repeated name wins), as the engine reads one.
pub(crate) fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// `text` with every `%XX` escape decoded; an escape that is cut short or
/// not hexadecimal stays as it is, and bytes that are not UTF-8 become
/// U+FFFD.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::{parse_query, percent_decode};

    #[test]
    fn query_last_value_wins_and_decodes() {
        let q = parse_query("a=1&a=2&y=two+words&z=%41");
        assert_eq!(q["a"], "2");
        assert_eq!(q["y"], "two words");
        assert_eq!(q["z"], "A");
    }

    #[test]
    fn escapes_decode_and_broken_ones_stay() {
        assert_eq!(percent_decode("w%C3%B6rld"), "wörld");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
