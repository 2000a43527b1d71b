//! How deeply a frame nests, against what its reader decodes.
//!
//! The engine, like [`crate::decode`], reads frames with serde_json, which
//! refuses text nested deeper than [`MAX_FRAME_DEPTH`] arrays and objects
//! (the frame's own object counts as one). The engine drops such a frame
//! without an answer, so a sender checks with [`too_deep`] first and fails
//! at once instead of leaving a caller waiting for its timeout.

/// The deepest nesting of arrays and objects in one frame, the frame's own
/// object included, that serde_json (and so the engine) decodes.
pub const MAX_FRAME_DEPTH: usize = 127;

/// `Some(depth)` when the JSON text `frame` nests arrays and objects deeper
/// than [`MAX_FRAME_DEPTH`]; `None` when its reader can decode it.
///
/// It costs one vectorised pass over the bytes counting opening brackets
/// (none for a frame too short to nest that deep); only a frame with more
/// than [`MAX_FRAME_DEPTH`] of them is scanned again, minding strings.
///
/// ```
/// use iii_protocol::depth::{too_deep, MAX_FRAME_DEPTH};
/// let nested = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
/// assert_eq!(too_deep(&nested(MAX_FRAME_DEPTH)), None);
/// assert_eq!(too_deep(&nested(MAX_FRAME_DEPTH + 1)), Some(MAX_FRAME_DEPTH + 1));
/// // Brackets inside strings do not nest.
/// assert_eq!(too_deep(&format!("{{\"s\":\"{}\"}}", "[".repeat(500))), None);
/// ```
pub fn too_deep(frame: &str) -> Option<usize> {
    deeper_than(frame, MAX_FRAME_DEPTH)
}

/// `Some(depth)` when the JSON text `value` nests arrays and objects
/// deeper than `limit`, as [`too_deep`] does for a whole frame.
pub(crate) fn deeper_than(value: &str, limit: usize) -> Option<usize> {
    let bytes = value.as_bytes();
    // Each level takes an opening and a closing byte, and one opening
    // bracket at least: text too short, or with too few of them, cannot
    // nest past `limit` (the count stops at the first one past it).
    if bytes.len() < 2 * (limit + 1) || memchr::memchr2_iter(b'[', b'{', bytes).nth(limit).is_none()
    {
        return None;
    }
    let depth = max_depth(bytes);
    (depth > limit).then_some(depth)
}

/// The deepest nesting of arrays and objects in JSON text, outside strings.
fn max_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(levels: usize) -> String {
        format!(
            r#"{{"type":"invokefunction","invocation_id":"11111111-1111-4111-8111-111111111111","function_id":"f","data":{{"k":"[\"{{","v":{}1{}}}}}"#,
            "[".repeat(levels),
            "]".repeat(levels)
        )
    }

    /// The limit is where the decoder stops: a frame `too_deep` passes
    /// decodes, and the next level up is refused for its depth.
    #[test]
    fn the_limit_is_where_serde_json_stops() {
        // The frame's object and `data`'s object are two levels.
        let deepest = MAX_FRAME_DEPTH - 2;
        let fits = invocation(deepest);
        assert_eq!(too_deep(&fits), None);
        crate::decode(&fits).expect("the deepest frame decodes");
        let over = invocation(deepest + 1);
        assert_eq!(too_deep(&over), Some(MAX_FRAME_DEPTH + 1));
        let error = crate::decode(&over).expect_err("one level more is refused");
        assert!(error.to_string().contains("recursion limit"), "{error}");
    }

    #[test]
    fn escaped_quotes_do_not_end_a_string() {
        let text = format!(r#"["a\"{}"]"#, "[".repeat(300));
        assert_eq!(max_depth(text.as_bytes()), 1);
        assert_eq!(too_deep(&text), None);
        let escaped_backslash = format!(r#"["a\\",{}1{}]"#, "[".repeat(200), "]".repeat(200));
        assert_eq!(too_deep(&escaped_backslash), Some(201));
    }
}
