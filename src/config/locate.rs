//! Finding the line of a key, for errors found after serde is done.

/// A serde error's message without the " at line L column C" serde_json and serde_norway end it
/// with: the line is shown in front instead (`file:L: message`).
pub(crate) fn without_position(message: String) -> String {
    match message.find(" at line ") {
        Some(pos) => message[..pos].to_string(),
        None => message,
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Seg {
    Key(&'static str),
    Index(usize),
}

/// The 1-based line of `path` in block-style YAML, or `None` where the file is written in a way
/// this small reader does not follow (flow style, anchors); the error is then shown without one.
pub(super) fn locate(text: &str, path: &[Seg]) -> Option<usize> {
    // (line number, column, content) for each line that holds something.
    let mut lines: Vec<(usize, usize, &str)> = text
        .lines()
        .enumerate()
        .filter_map(|(n, l)| {
            let content = l.trim_start();
            (!content.is_empty() && !content.starts_with('#') && content != "---")
                .then(|| (n + 1, l.len() - content.len(), content))
        })
        .collect();
    let mut found = None;
    for seg in path {
        let shallowest = lines.iter().map(|l| l.1).min()?;
        match seg {
            Seg::Key(k) => {
                let pos = lines
                    .iter()
                    .position(|(_, col, content)| *col == shallowest && is_key(content, k))?;
                let (n, col, _) = lines[pos];
                found = Some(n);
                let end = lines[pos + 1..]
                    .iter()
                    .position(|l| l.1 <= col)
                    .map_or(lines.len(), |e| pos + 1 + e);
                lines = lines[pos + 1..end].to_vec();
            }
            Seg::Index(i) => {
                let dashes: Vec<usize> = (0..lines.len())
                    .filter(|&p| lines[p].1 == shallowest && lines[p].2.starts_with('-'))
                    .collect();
                let pos = *dashes.get(*i)?;
                let end = dashes.get(i + 1).copied().unwrap_or(lines.len());
                let (n, col, content) = lines[pos];
                found = Some(n);
                let rest = content[1..].trim_start();
                let rest_col = col + content.len() - rest.len();
                let mut item = Vec::with_capacity(end - pos);
                if !rest.is_empty() {
                    item.push((n, rest_col, rest));
                }
                item.extend_from_slice(&lines[pos + 1..end]);
                lines = item;
            }
        }
        if lines.is_empty() {
            break;
        }
    }
    found
}

fn is_key(content: &str, key: &str) -> bool {
    let unquoted = content
        .strip_prefix('"')
        .and_then(|c| c.strip_prefix(key))
        .and_then(|c| c.strip_prefix('"'))
        .or_else(|| content.strip_prefix(key));
    unquoted.is_some_and(|r| r.trim_start().starts_with(':'))
}
