//! Counters for the transparent 443 listener's ClientHello reading: how many hellos, what
//! came of them, how big they are, and the evasion signs (fragmentation, ECH).

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::client_hello::{ClientHelloInfo, MalformedReason};
use super::read_hello::HelloError;

/// What came of reading one ClientHello (a bounded label set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HelloOutcome {
    /// A hello with a server name.
    Sni,
    /// A hello without one.
    NoSni,
    /// Not TLS.
    NotTls,
    /// A broken hello.
    Malformed,
    /// A hello over the size cap.
    TooLarge,
    /// The client closed before the hello was complete.
    Closed,
    /// The client did not finish its hello in time.
    Timeout,
    /// Reading failed.
    IoError,
}

impl HelloOutcome {
    /// The label value: snake_case, as Prometheus label values usually are.
    pub fn name(self) -> &'static str {
        match self {
            HelloOutcome::Sni => "sni",
            HelloOutcome::NoSni => "no_sni",
            HelloOutcome::NotTls => "not_tls",
            HelloOutcome::Malformed => "malformed",
            HelloOutcome::TooLarge => "too_large",
            HelloOutcome::Closed => "closed",
            HelloOutcome::Timeout => "timeout",
            HelloOutcome::IoError => "io_error",
        }
    }
}

impl EncodeLabelValue for HelloOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.name(), encoder)
    }
}

/// The label set of `lychgate_tls_hellos_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct HelloOutcomeLabels {
    /// What came of the hello.
    pub outcome: HelloOutcome,
}

/// The TLS peek metrics; one instance per daemon, shared by the transparent listeners.
#[derive(Debug)]
pub struct TlsPeekMetrics {
    /// `lychgate_tls_hellos_total{outcome}`: hellos read, by outcome.
    pub hellos: Family<HelloOutcomeLabels, Counter>,
    /// `lychgate_tls_hello_ech_total`: complete hellos carrying an ECH extension (real or
    /// GREASE; a jump without a Chrome update hints at real ECH use).
    pub ech: Counter,
    /// `lychgate_tls_hello_fragmented_total`: complete hellos split over several TLS records,
    /// a common trick of filter-evasion tools.
    pub fragmented: Counter,
    /// `lychgate_tls_hello_bytes`: the size of complete hellos, record headers included.
    pub hello_bytes: Histogram,
}

impl Default for TlsPeekMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsPeekMetrics {
    /// Fresh metrics, all zero.
    pub fn new() -> Self {
        TlsPeekMetrics {
            hellos: Family::default(),
            ech: Counter::default(),
            fragmented: Counter::default(),
            // 512 B (OpenSSL) to 16 KiB (the cap); browsers with post-quantum shares land
            // in the 2 KiB bucket.
            hello_bytes: Histogram::new([256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0]),
        }
    }

    /// Registers the metrics under their `lychgate_` names.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "lychgate_tls_hellos",
            "TLS ClientHellos read by the transparent HTTPS listener, by outcome",
            self.hellos.clone(),
        );
        registry.register(
            "lychgate_tls_hello_ech",
            "Complete ClientHellos carrying an encrypted_client_hello extension",
            self.ech.clone(),
        );
        registry.register(
            "lychgate_tls_hello_fragmented",
            "Complete ClientHellos split over more than one TLS record",
            self.fragmented.clone(),
        );
        registry.register(
            "lychgate_tls_hello_bytes",
            "Size of complete ClientHellos in bytes, TLS record headers included",
            self.hello_bytes.clone(),
        );
    }

    /// Counts the result of one [`read_client_hello`](super::read_client_hello).
    pub fn record(&self, result: &Result<ClientHelloInfo, HelloError>) {
        let outcome = match result {
            Ok(info) => {
                if info.has_ech {
                    self.ech.inc();
                }
                if info.records > 1 {
                    self.fragmented.inc();
                }
                // A hello is at most MAX_HELLO_BYTES, far inside f64's exact integers.
                self.hello_bytes.observe(info.consumed as f64);
                if info.sni.is_some() {
                    HelloOutcome::Sni
                } else {
                    HelloOutcome::NoSni
                }
            }
            Err(HelloError::NotTls) => HelloOutcome::NotTls,
            Err(HelloError::Malformed(MalformedReason::TooLarge)) => HelloOutcome::TooLarge,
            Err(HelloError::Malformed(_)) => HelloOutcome::Malformed,
            Err(HelloError::Closed(_)) => HelloOutcome::Closed,
            Err(HelloError::Io(_)) => HelloOutcome::IoError,
        };
        self.count(outcome);
    }

    /// Counts a hello that did not arrive within the timeout.
    pub fn record_timeout(&self) {
        self.count(HelloOutcome::Timeout);
    }

    fn count(&self, outcome: HelloOutcome) {
        self.hellos
            .get_or_create(&HelloOutcomeLabels { outcome })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::client_hello::{Peek, peek};
    use prometheus_client::encoding::text::encode;

    const CHROMIUM: &[u8] = include_bytes!("fixtures/chromium-pq-ech-grease.bin");
    const NO_SNI: &[u8] = include_bytes!("fixtures/openssl-no-sni.bin");

    fn info(bytes: &[u8]) -> ClientHelloInfo {
        match peek(bytes) {
            Peek::Hello(info) => info,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn outcomes_are_counted_and_exposed() {
        let metrics = TlsPeekMetrics::new();
        let mut registry = Registry::default();
        metrics.register(&mut registry);

        metrics.record(&Ok(info(CHROMIUM)));
        metrics.record(&Ok(info(NO_SNI)));
        metrics.record(&Err(HelloError::NotTls));
        metrics.record(&Err(HelloError::Malformed(MalformedReason::TooLarge)));
        metrics.record(&Err(HelloError::Malformed(MalformedReason::BadRecord)));
        metrics.record(&Err(HelloError::Closed(3)));
        metrics.record_timeout();

        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        for line in [
            "lychgate_tls_hellos_total{outcome=\"sni\"} 1",
            "lychgate_tls_hellos_total{outcome=\"no_sni\"} 1",
            "lychgate_tls_hellos_total{outcome=\"not_tls\"} 1",
            "lychgate_tls_hellos_total{outcome=\"too_large\"} 1",
            "lychgate_tls_hellos_total{outcome=\"malformed\"} 1",
            "lychgate_tls_hellos_total{outcome=\"closed\"} 1",
            "lychgate_tls_hellos_total{outcome=\"timeout\"} 1",
            "lychgate_tls_hello_ech_total 1",
            "lychgate_tls_hello_fragmented_total 0",
            "lychgate_tls_hello_bytes_count 2",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
