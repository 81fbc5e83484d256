//! JSON lines from a file or stdin: embedded mode's input. Each line is one record; its offset is
//! its line number (from 1), and its partition is 0: the whole input is one partition.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

/// Opens `path`, or stdin when `None`.
pub fn open(path: Option<&Path>) -> io::Result<Box<dyn BufRead>> {
    Ok(match path {
        None => Box::new(BufReader::new(io::stdin())),
        Some(p) if p.as_os_str() == "-" => Box::new(BufReader::new(io::stdin())),
        Some(p) => Box::new(BufReader::with_capacity(1 << 16, File::open(p)?)),
    })
}

/// The name records of `path` report as their source topic (`-` for stdin).
pub fn source_name(path: Option<&Path>) -> String {
    path.map_or_else(|| "-".to_string(), |p| p.display().to_string())
}
