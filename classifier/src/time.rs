//! Local time and time windows ("games allowed for staff 12:00–13:00 Mon–Fri").
//!
//! Windows are written in the school's local time and evaluated against a [`LocalTime`] that the
//! caller derives from the real clock with [`local_time`] in the configured time zone, so a
//! gateway whose system clock runs on UTC does not shift lessons by an hour in summer.

use jiff::Timestamp;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use std::fmt;

/// Minutes in a day; also the largest end of a window (`24:00`).
pub const MINUTES_PER_DAY: u16 = 24 * 60;

/// A moment in the school's local time, reduced to what windows look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// Day of the week, 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    /// Minutes since local midnight, 0..1440.
    pub minute: u16,
}

impl LocalTime {
    /// Builds a local time from a weekday (0 = Monday) and hour/minute.
    pub const fn new(weekday: u8, hour: u8, minute: u8) -> Self {
        LocalTime {
            weekday: weekday % 7,
            minute: hour as u16 * 60 + minute as u16,
        }
    }
}

/// Converts a timestamp to local time in `tz` (DST handled by the tz database).
pub fn local_time(tz: &TimeZone, at: Timestamp) -> LocalTime {
    let dt = tz.to_datetime(at);
    LocalTime {
        weekday: dt.weekday().to_monday_zero_offset() as u8,
        minute: dt.hour() as u16 * 60 + dt.minute() as u16,
    }
}

/// A set of weekdays, bit 0 = Monday.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct DaySet(pub u8);

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl DaySet {
    /// Every day.
    pub const ALL: DaySet = DaySet(0x7f);
    /// Monday to Friday.
    pub const WEEKDAYS: DaySet = DaySet(0x1f);

    /// Whether the set holds a weekday (0 = Monday).
    pub const fn contains(self, weekday: u8) -> bool {
        self.0 & (1 << (weekday % 7)) != 0
    }

    /// Parses `Mon-Fri`, `mon,wed,fri`, `Sat-Sun`, `weekdays`, `weekends`, `daily`/`all`
    /// (case-insensitive; ranges may wrap, e.g. `Fri-Mon`).
    pub fn parse(text: &str) -> Result<DaySet, TimeError> {
        let lower = text.trim().to_ascii_lowercase();
        match lower.as_str() {
            "daily" | "all" | "every day" => return Ok(DaySet::ALL),
            "weekdays" => return Ok(DaySet::WEEKDAYS),
            "weekends" | "weekend" => return Ok(DaySet(0x60)),
            _ => {}
        }
        let mut set = 0u8;
        for part in lower.split(',') {
            let part = part.trim();
            let (from, to) = match part.split_once('-') {
                Some((a, b)) => (day_index(a.trim(), text)?, day_index(b.trim(), text)?),
                None => {
                    let d = day_index(part, text)?;
                    (d, d)
                }
            };
            let mut d = from;
            loop {
                set |= 1 << d;
                if d == to {
                    break;
                }
                d = (d + 1) % 7;
            }
        }
        Ok(DaySet(set))
    }
}

fn day_index(name: &str, whole: &str) -> Result<u8, TimeError> {
    let short = name.get(..3).unwrap_or(name);
    let ok = DAY_NAMES.iter().position(|d| *d == short).filter(|&i| {
        let full = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ][i];
        full.starts_with(name) && name.len() >= 3
    });
    ok.map(|i| i as u8)
        .ok_or_else(|| TimeError::BadDays(whole.to_string()))
}

impl fmt::Debug for DaySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for DaySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DaySet::ALL => return f.write_str("daily"),
            DaySet::WEEKDAYS => return f.write_str("Mon-Fri"),
            _ => {}
        }
        let mut first = true;
        for (i, name) in DAY_NAMES.iter().enumerate() {
            if self.contains(i as u8) {
                if !first {
                    f.write_str(",")?;
                }
                first = false;
                let mut c = name.chars();
                if let Some(h) = c.next() {
                    write!(f, "{}{}", h.to_ascii_uppercase(), c.as_str())?;
                }
            }
        }
        Ok(())
    }
}

/// A weekly window: start inclusive, end exclusive; `end < start` runs overnight into the next
/// day (a window on Friday 22:00–06:00 covers Saturday 05:59).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// Days on which the window starts.
    pub days: DaySet,
    /// Start, minutes after midnight (inclusive).
    pub start: u16,
    /// End, minutes after midnight (exclusive); 1440 means midnight at the end of the day.
    pub end: u16,
}

/// A malformed time or window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not `HH:MM` with hours 0–24 and minutes 0–59.
    #[error("`{0}` is not a time of day: write HH:MM between 00:00 and 24:00")]
    BadTime(String),
    /// Not a day list.
    #[error("`{0}` is not a list of days: write e.g. `Mon-Fri`, `Sat,Sun` or `daily`")]
    BadDays(String),
    /// Not `HH:MM-HH:MM`.
    #[error("`{0}` is not a window: write `HH:MM-HH:MM`, e.g. `12:00-13:00`")]
    BadWindow(String),
    /// Start equals end.
    #[error("window `{0}` is empty: its start and end are the same")]
    Empty(String),
}

/// Parses `HH:MM` (24-hour; `24:00` allowed as an end).
pub fn parse_time_of_day(text: &str) -> Result<u16, TimeError> {
    let bad = || TimeError::BadTime(text.to_string());
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl TimeWindow {
    /// Parses `days` (see [`DaySet::parse`]) and `HH:MM-HH:MM`.
    pub fn parse(days: &str, span: &str) -> Result<TimeWindow, TimeError> {
        let (a, b) = span
            .split_once('-')
            .ok_or_else(|| TimeError::BadWindow(span.to_string()))?;
        let start = parse_time_of_day(a)?;
        let end = parse_time_of_day(b)?;
        if start == MINUTES_PER_DAY {
            return Err(TimeError::BadTime(a.trim().to_string()));
        }
        if start == end {
            return Err(TimeError::Empty(span.to_string()));
        }
        Ok(TimeWindow {
            days: DaySet::parse(days)?,
            start,
            end,
        })
    }

    /// Whether the window covers a moment.
    pub const fn contains(&self, t: LocalTime) -> bool {
        if self.start < self.end {
            self.days.contains(t.weekday) && t.minute >= self.start && t.minute < self.end
        } else {
            // Overnight: the evening part on a listed day, or the morning part after one.
            (self.days.contains(t.weekday) && t.minute >= self.start)
                || (self.days.contains((t.weekday + 6) % 7) && t.minute < self.end)
        }
    }
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:02}:{:02}-{:02}:{:02}",
            self.days,
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

/// Helper for tests and the CLI: weekday index of a civil date.
pub fn weekday_index(w: Weekday) -> u8 {
    w.to_monday_zero_offset() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_days() {
        assert_eq!(DaySet::parse("Mon-Fri").unwrap(), DaySet::WEEKDAYS);
        assert_eq!(DaySet::parse("weekdays").unwrap(), DaySet::WEEKDAYS);
        assert_eq!(DaySet::parse("sat,sun").unwrap(), DaySet(0x60));
        assert_eq!(DaySet::parse("Fri-Mon").unwrap(), DaySet(0b111_0001));
        assert_eq!(DaySet::parse("Tuesday").unwrap(), DaySet(0b10));
        assert!(DaySet::parse("Funday").is_err());
        assert!(DaySet::parse("mo").is_err());
    }

    #[test]
    fn parses_times() {
        assert_eq!(parse_time_of_day("09:00").unwrap(), 540);
        assert_eq!(parse_time_of_day("9:05").unwrap(), 545);
        assert_eq!(parse_time_of_day("24:00").unwrap(), 1440);
        for bad in [
            "25:00", "12:60", "24:01", "1200", "12:5", "-1:00", "ab:cd", "",
        ] {
            assert!(parse_time_of_day(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn start_inclusive_end_exclusive() {
        let w = TimeWindow::parse("Mon-Fri", "12:00-13:00").unwrap();
        assert!(!w.contains(LocalTime::new(0, 11, 59)));
        assert!(w.contains(LocalTime::new(0, 12, 0)));
        assert!(w.contains(LocalTime::new(4, 12, 59)));
        assert!(!w.contains(LocalTime::new(0, 13, 0)));
        assert!(
            !w.contains(LocalTime::new(5, 12, 30)),
            "Saturday is not in Mon-Fri"
        );
    }

    #[test]
    fn overnight_windows_run_into_the_next_day() {
        let w = TimeWindow::parse("Fri", "22:00-06:00").unwrap();
        assert!(w.contains(LocalTime::new(4, 22, 0)));
        assert!(
            w.contains(LocalTime::new(5, 5, 59)),
            "Saturday morning belongs to Friday's window"
        );
        assert!(!w.contains(LocalTime::new(5, 6, 0)));
        assert!(
            !w.contains(LocalTime::new(4, 5, 0)),
            "Friday morning belongs to Thursday's"
        );
        assert!(!w.contains(LocalTime::new(5, 22, 30)));
    }

    #[test]
    fn empty_and_bad_windows_are_rejected() {
        assert!(matches!(
            TimeWindow::parse("daily", "10:00-10:00"),
            Err(TimeError::Empty(_))
        ));
        assert!(matches!(
            TimeWindow::parse("daily", "25:00-26:00"),
            Err(TimeError::BadTime(_))
        ));
        assert!(matches!(
            TimeWindow::parse("daily", "10:00"),
            Err(TimeError::BadWindow(_))
        ));
        assert_eq!(TimeWindow::parse("daily", "23:00-24:00").unwrap().end, 1440);
    }

    #[test]
    fn london_time_follows_daylight_saving() {
        let tz = TimeZone::get("Europe/London").unwrap();
        // 2026-07-01 (Wednesday) 08:30 UTC is 09:30 BST.
        let summer: Timestamp = "2026-07-01T08:30:00Z".parse().unwrap();
        assert_eq!(local_time(&tz, summer), LocalTime::new(2, 9, 30));
        // 2026-11-30 (Monday) 08:30 UTC is 08:30 GMT.
        let winter: Timestamp = "2026-11-30T08:30:00Z".parse().unwrap();
        assert_eq!(local_time(&tz, winter), LocalTime::new(0, 8, 30));
    }
}
