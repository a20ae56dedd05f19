//! `--faults "500=0.05,429=0.05,reset=0.01,seed=42"`: fail a share of requests on purpose, so
//! retries and recovery can be tested. A faulted request is not processed.

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    Status(StatusCode),
    /// The connection breaks mid-response.
    Reset,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    rules: Vec<(Fault, f64)>,
    seed: Option<u64>,
}

impl Faults {
    pub fn parse(spec: &str) -> Result<Faults, String> {
        let mut faults = Faults {
            rules: Vec::new(),
            seed: None,
        };
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("'{part}': expected KIND=PROBABILITY"))?;
            if key == "seed" {
                let seed = value
                    .parse()
                    .map_err(|_| format!("'{part}': the seed must be an integer"))?;
                faults.seed = Some(seed);
                continue;
            }
            let fault = if key == "reset" {
                Fault::Reset
            } else {
                match key
                    .parse::<u16>()
                    .ok()
                    .and_then(|c| StatusCode::from_u16(c).ok())
                {
                    Some(status) if status.as_u16() >= 400 => Fault::Status(status),
                    _ => {
                        return Err(format!(
                            "'{key}': a fault is an HTTP status ≥ 400 or 'reset'"
                        ))
                    }
                }
            };
            let probability: f64 = value
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=1.0).contains(p))
                .ok_or_else(|| format!("'{part}': the probability must be between 0 and 1"))?;
            faults.rules.push((fault, probability));
        }
        let total: f64 = faults.rules.iter().map(|(_, p)| p).sum();
        if total > 1.0 {
            return Err(format!("the probabilities add up to {total}, more than 1"));
        }
        Ok(faults)
    }

    pub fn roller(self) -> Roller {
        let rng = match self.seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        };
        Roller { faults: self, rng }
    }
}

pub struct Roller {
    faults: Faults,
    rng: fastrand::Rng,
}

impl Roller {
    pub fn roll(&mut self) -> Option<Fault> {
        let mut dice = self.rng.f64();
        for (fault, probability) in &self.faults.rules {
            if dice < *probability {
                return Some(*fault);
            }
            dice -= probability;
        }
        None
    }
}

impl Fault {
    pub fn response(self) -> Response {
        match self {
            Fault::Status(status) => {
                let retry_after = (status == StatusCode::TOO_MANY_REQUESTS).then_some(1);
                error_response(status, format!("injected fault: {status}"), retry_after)
            }
            Fault::Reset => {
                let broken = futures_util::stream::iter([Err::<Bytes, std::io::Error>(
                    std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected reset"),
                )]);
                Response::new(Body::from_stream(broken))
            }
        }
    }
}

/// A failure answered before any vendor sees the request: `{"error": "..."}`, with
/// `Retry-After` in seconds when given.
pub fn error_response(status: StatusCode, message: String, retry_after: Option<u64>) -> Response {
    let mut response = (status, Json(json!({ "error": message }))).into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spec_example() {
        let faults = Faults::parse("500=0.05,429=0.05,reset=0.01,seed=42").unwrap();
        assert_eq!(faults.rules.len(), 3);
        assert_eq!(faults.seed, Some(42));
        assert!(Faults::parse("500=2").is_err());
        assert!(Faults::parse("200=0.1").is_err());
        assert!(Faults::parse("500=0.6,503=0.6").is_err());
        assert!(Faults::parse("boom").is_err());
    }

    #[test]
    fn rolls_at_about_the_given_rate() {
        let mut roller = Faults::parse("503=0.25,seed=7").unwrap().roller();
        let hits = (0..10_000).filter(|_| roller.roll().is_some()).count();
        assert!((2_200..2_800).contains(&hits), "{hits}");
    }
}
