//! Text for a POSIX shell: the commands the CLI prints for people to paste.

/// `s` as one shell word: as it is when plainly safe, else single-quoted.
pub(crate) fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_that_need_quotes_get_them() {
        assert_eq!(quote("./temporal.toml"), "./temporal.toml");
        assert_eq!(quote("my file's.toml"), r"'my file'\''s.toml'");
        assert_eq!(quote(""), "''");
    }
}
