//! Writing result files atomically (temporary file in the same directory, then rename), so a
//! crash or Ctrl-C never leaves a half-written report.

use std::io::Write;
use std::path::Path;

use crate::ModeError;

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
    let mut s = serde_json::to_vec_pretty(value)
        .map_err(|e| ModeError::Config(format!("cannot serialize {}: {e}", path.display())))?;
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
