//! A lumberjack-compatible rotating file (blocking I/O; the sink calls it on
//! Tokio's blocking pool).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use tracing::warn;

/// lumberjack's backup time format (`2006-01-02T15-04-05.000`).
const BACKUP_TIME_FORMAT: &str = "%Y-%m-%dT%H-%M-%S%.3f";

/// Rotation limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Rotate before the file would exceed this many bytes.
    pub(crate) max_size: u64,
    /// Delete backups older than this; `None` keeps them.
    pub(crate) max_age: Option<Duration>,
    /// Keep at most this many backups; 0 keeps all.
    pub(crate) max_backups: usize,
}

/// The current file and its size.
#[derive(Debug)]
pub(crate) struct RotatingFile {
    path: PathBuf,
    limits: Limits,
    file: Option<File>,
    size: u64,
    /// Whether `path` is a regular file. Devices and pipes (`/dev/stdout`,
    /// the Bitnami chart's default) are never rotated or synced: KEE's
    /// lumberjack failed on the first rotation of `/dev/stdout`.
    regular: bool,
    /// Supplies "now"; replaced in tests.
    clock: fn() -> DateTime<Utc>,
}

impl RotatingFile {
    /// Opens (or creates, with its directories) the file for appending.
    pub(crate) fn open(path: PathBuf, limits: Limits) -> io::Result<RotatingFile> {
        let mut file = RotatingFile {
            path,
            limits,
            file: None,
            size: 0,
            regular: true,
            clock: Utc::now,
        };
        file.open_existing_or_new(0)?;
        Ok(file)
    }

    #[cfg(test)]
    pub(crate) fn with_clock(mut self, clock: fn() -> DateTime<Utc>) -> RotatingFile {
        self.clock = clock;
        self
    }

    /// Appends whole lines, rotating between lines as needed, then syncs the
    /// file to disk.
    pub(crate) fn write_lines<L: AsRef<[u8]>>(&mut self, lines: &[L]) -> io::Result<()> {
        for line in lines {
            let line = line.as_ref();
            let len = u64::try_from(line.len()).unwrap_or(u64::MAX);
            if self.file.is_none() {
                self.open_existing_or_new(len)?;
            } else if self.regular
                && self.size > 0
                && self.size.saturating_add(len) > self.limits.max_size
            {
                self.rotate()?;
            }
            let Some(file) = self.file.as_mut() else {
                return Err(io::Error::other("file is not open"));
            };
            file.write_all(line)?;
            self.size = self.size.saturating_add(len);
        }
        if let Some(file) = self.file.as_ref().filter(|_| self.regular) {
            file.sync_data()?;
        }
        Ok(())
    }

    /// Closes the file; the next write opens `path` again.
    pub(crate) fn reopen(&mut self) {
        self.file = None;
        self.size = 0;
    }

    /// lumberjack's `openExistingOrNew`: append to the file unless it is
    /// missing or this write would reach the limit.
    fn open_existing_or_new(&mut self, write_len: u64) -> io::Result<()> {
        let info = match fs::metadata(&self.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.regular = true;
                return self.open_new();
            }
            Err(e) => return Err(e),
            Ok(info) => info,
        };
        self.regular = info.file_type().is_file();
        if !self.regular {
            self.size = 0;
            self.file = Some(OpenOptions::new().append(true).open(&self.path)?);
            return Ok(());
        }
        if info.len() > 0 && info.len().saturating_add(write_len) >= self.limits.max_size {
            return self.rotate();
        }
        match OpenOptions::new().append(true).open(&self.path) {
            Ok(file) => {
                self.size = info.len();
                self.file = Some(file);
                Ok(())
            }
            // lumberjack starts a new file when the old one cannot be opened
            // for appending.
            Err(_) => self.open_new(),
        }
    }

    /// Moves the current file to a backup, starts a new one and prunes
    /// backups.
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        self.open_new()?;
        self.prune();
        Ok(())
    }

    /// Renames an existing file to its backup name and creates an empty one
    /// with the old file's permissions (0600 for a first file, as lumberjack).
    fn open_new(&mut self) -> io::Result<()> {
        let dir = self.dir();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&dir)?;
        let mut mode = 0o600;
        if let Ok(info) = fs::metadata(&self.path) {
            mode = info.permissions().mode() & 0o777;
            fs::rename(&self.path, self.free_backup_name())?;
        }
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&self.path)?;
        self.file = Some(file);
        self.size = 0;
        Ok(())
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// `name` without extension and the extension (with its dot), split like
    /// Go's `filepath.Ext`.
    fn prefix_and_ext(&self) -> (String, String) {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match name.rfind('.') {
            Some(i) => (name[..i].to_owned(), name[i..].to_owned()),
            None => (name, String::new()),
        }
    }

    /// The backup name for now — or, when a backup with that time or a later
    /// one exists (several rotations in one millisecond, a clock step back),
    /// one millisecond after the newest backup, so backups never overwrite
    /// each other and pruning by age order keeps the newest data.
    fn free_backup_name(&self) -> PathBuf {
        let (prefix, ext) = self.prefix_and_ext();
        let mut at = (self.clock)();
        if let Some(newest) = self
            .backups()
            .ok()
            .and_then(|b| b.into_iter().map(|(t, _)| t).max())
            && newest >= at
        {
            at = newest + chrono::Duration::milliseconds(1);
        }
        loop {
            let candidate = self
                .dir()
                .join(format!("{prefix}-{}{ext}", at.format(BACKUP_TIME_FORMAT)));
            if !candidate.exists() {
                return candidate;
            }
            at += chrono::Duration::milliseconds(1);
        }
    }

    /// Deletes backups beyond `max_backups` (oldest first) and older than
    /// `max_age`. Failures are logged, never fatal.
    fn prune(&self) {
        if self.limits.max_backups == 0 && self.limits.max_age.is_none() {
            return;
        }
        let mut backups = match self.backups() {
            Ok(b) => b,
            Err(e) => {
                warn!(path = %self.path.display(), error = %e, "cannot list backups for pruning");
                return;
            }
        };
        backups.sort_by_key(|b| std::cmp::Reverse(b.0));
        let now = (self.clock)();
        for (i, (time, path)) in backups.iter().enumerate() {
            let too_many = self.limits.max_backups > 0 && i >= self.limits.max_backups;
            let too_old = self.limits.max_age.is_some_and(|age| {
                chrono::Duration::from_std(age).is_ok_and(|age| *time < now - age)
            });
            if (too_many || too_old)
                && let Err(e) = fs::remove_file(path)
            {
                warn!(path = %path.display(), error = %e, "cannot delete old backup");
            }
        }
    }

    /// Backups of this file with their timestamps.
    fn backups(&self) -> io::Result<Vec<(DateTime<Utc>, PathBuf)>> {
        let (prefix, ext) = self.prefix_and_ext();
        let head = format!("{prefix}-");
        let mut out = Vec::new();
        for entry in fs::read_dir(self.dir())? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stamp) = name
                .strip_prefix(&head)
                .and_then(|rest| rest.strip_suffix(ext.as_str()))
            else {
                continue;
            };
            if let Ok(t) = NaiveDateTime::parse_from_str(stamp, BACKUP_TIME_FORMAT) {
                out.push((t.and_utc(), entry.path()));
            }
        }
        Ok(out)
    }

    /// Returns the path written.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}
