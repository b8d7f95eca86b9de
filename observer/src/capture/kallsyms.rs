//! Where kernel functions lie in memory, from /proc/kallsyms (root sees the addresses unless
//! `kernel.kptr_restrict` is 2). The consume_skb receive hook tells the datagram a unix read
//! frees from every other freed skb by the code that freed it.

use std::fs;

/// `[start, end)` of each function named, in order, or `None` if one is missing or the
/// addresses are hidden. `end` is the next symbol's address.
pub fn text_ranges(names: &[&str]) -> Option<Vec<(u64, u64)>> {
    let text = fs::read_to_string("/proc/kallsyms").ok()?;
    ranges_in(&text, names)
}

fn ranges_in(text: &str, names: &[&str]) -> Option<Vec<(u64, u64)>> {
    let mut starts: Vec<u64> = Vec::new();
    let mut found: Vec<Option<u64>> = vec![None; names.len()];
    for line in text.lines() {
        // "ffffffff81e9b680 T skb_free_datagram" (modules add "\t[name]")
        let mut it = line.split_ascii_whitespace();
        let (Some(addr), Some(_kind), Some(name)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(addr, 16) else {
            continue;
        };
        starts.push(addr);
        if let Some(i) = names.iter().position(|n| *n == name) {
            // A name twice (a static function in two files) is ambiguous.
            if found[i].is_some() {
                return None;
            }
            found[i] = Some(addr);
        }
    }
    starts.sort_unstable();
    found
        .into_iter()
        .map(|start| {
            let start = start.filter(|a| *a != 0)?;
            let next = starts.partition_point(|a| *a <= start);
            Some((start, *starts.get(next)?))
        })
        .collect()
}

#[cfg(test)]
mod tests;
