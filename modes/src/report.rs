//! Writing result files atomically (temporary file in the same directory, then rename), so a
//! crash or Ctrl-C never leaves a half-written report.

use std::io::Write;
use std::path::Path;

use crate::ModeError;

/// Text for XML element content or an attribute value (JUnit, SVG): `&`, `<`, `>` and `"`
/// escaped, and the characters XML 1.0 cannot carry (controls but tab and line breaks,
/// U+FFFE, U+FFFF) dropped.
pub fn xml_escape(s: &str) -> String {
    let carried = |c: &char| {
        matches!(c, '\t' | '\n' | '\r')
            || (*c as u32 >= 0x20 && !matches!(c, '\u{fffe}' | '\u{ffff}'))
    };
    crate::fuzzing::html::esc(&s.chars().filter(carried).collect::<String>())
}

/// The first two outcomes of a client run: stopped by a signal, or peers it could not reach
/// (each with why).
pub fn stopped_or_unreachable(
    interrupted: bool,
    unreachable: &[impl AsRef<str>],
) -> Result<(), ModeError> {
    if interrupted {
        return Err(ModeError::Interrupted);
    }
    if !unreachable.is_empty() {
        let why: Vec<&str> = unreachable.iter().map(AsRef::as_ref).collect();
        return Err(ModeError::Unreachable(why.join("; ")));
    }
    Ok(())
}

/// What a mode's report says when its run ends: the summary printed for people, the outcome
/// that decides the exit status, and the table some modes also write (`--tsv`). The binary
/// only prints these; every mode's pass rule lives beside its report.
pub trait Outcome: serde::Serialize {
    /// Printed when the run ends (unless `--json` prints the report instead).
    fn summary(&self) -> String;
    /// The summary goes to standard error where the mode prints its data on standard output.
    fn summary_on_stderr(&self) -> bool {
        false
    }
    /// `Ok`, or what decides the exit status: a failed check, an unreachable peer, a signal.
    fn outcome(&self) -> Result<(), ModeError> {
        Ok(())
    }
    /// The table `--tsv FILE` writes, where the mode has one.
    fn tsv(&self) -> Option<String> {
        None
    }
}

pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), ModeError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| ModeError::io(format!("cannot create directory {}", dir.display()), e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_data()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(ModeError::io(format!("cannot write {}", path.display()), e));
    }
    Ok(())
}

/// Serialize as pretty JSON and write atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), ModeError> {
    let mut s = serde_json::to_vec_pretty(value).map_err(|e| {
        ModeError::Config(crate::error::ConfigError::Serialize {
            file: path.display().to_string(),
            problem: e.to_string(),
        })
    })?;
    s.push(b'\n');
    write_atomic(path, &s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub").join("r.json");
        write_json(&p, &vec![1, 2, 3]).unwrap();
        write_json(&p, &vec![4]).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap().trim(), "[\n  4\n]");
        assert_eq!(
            std::fs::read_dir(p.parent().unwrap()).unwrap().count(),
            1,
            "no temp files left"
        );
    }
}
