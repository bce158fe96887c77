//! What the kernel says a process used: CPU time and resident memory from `/proc`, for
//! the server under test and, on PostgreSQL, every process of the database cluster.

use std::path::Path;

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`; 100 on Linux).
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime of one process, in ticks. The command name is in parentheses and
/// may hold spaces, so fields are counted after the last `)`.
fn ticks_of(stat: &str) -> Option<u64> {
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime field 14, stime field 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn comm_of(stat: &str) -> Option<&str> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    stat.get(open + 1..close)
}

/// CPU ticks used so far by `pid` (0 when it is gone).
pub fn process_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().as_deref().and_then(ticks_of).unwrap_or(0)
}

/// CPU ticks used so far by every process called `name` (e.g. `postgres`: the
/// postmaster, its background workers and the server's backends).
pub fn ticks_named(name: &str) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    dir.filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|s| comm_of(s) == Some(name))
        .filter_map(|s| ticks_of(&s))
        .sum()
}

/// Resident memory of `pid` in MiB (`VmRSS`).
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_counted_after_the_name() {
        let stat = "42 (tokio runtime) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 100 0 0";
        assert_eq!(comm_of(stat), Some("tokio runtime"));
        assert_eq!(ticks_of(stat), Some(325));
    }
}
