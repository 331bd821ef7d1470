//! Log lines for the systemd journal: no timestamp (the journal adds one)
//! and the level as a syslog priority prefix (`<3>` error … `<7>` debug),
//! which journald turns into the entry's priority.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::registry::LookupSpan;

/// Field values (the message included) with control characters escaped: a
/// remote server's bytes in an error (a header, a witness's body) can never
/// write ESC, OSC 8 links, BEL or a forged second line into a text log.
/// The level, time and target around them are ours and keep their colours.
pub struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut plain = String::new();
        format::DefaultFields::new().format_fields(Writer::new(&mut plain), fields)?;
        writer.write_str(&crate::service::webhooks::printable(&plain, usize::MAX))
    }
}

/// Wraps the default (timestamp-free) format with a priority prefix.
pub struct Journald(pub format::Format<format::Full, ()>);

/// The syslog priority journald expects for a tracing level.
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

impl<S, N> FormatEvent<S, N> for Journald
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority(event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}
