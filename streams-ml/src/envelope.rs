//! The model envelope: the value of a record on a model topic.
//!
//! The record key is the model name; the value is a JSON object
//!
//! ```json
//! {"envelope_version": 1, "format": "pmml", "version": 7,
//!  "metadata": {"trained_by": "nightly"}, "payload": "<base64 of the document>"}
//! ```
//!
//! `format` is one of `json-linear`, `pmml`, `onnx`; `version` is a non-negative integer that
//! grows with each new model of the same name; `metadata` (string to string) is optional.
//! The document is carried in `payload` (standard base64, with padding). A `json-linear`
//! document may instead be inlined as a JSON object under `document`, which keeps small models
//! readable on the topic; exactly one of `payload` and `document` must be present.
//! `envelope_version` is optional and defaults to 1.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::linear::LinearModel;
use crate::model::{Model, ModelFormat};
use crate::onnx::OnnxModel;
use crate::pmml::PmmlModel;
use crate::ModelError;

const FORMAT: &str = "envelope";
const ENVELOPE_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvelope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    envelope_version: Option<u32>,
    format: String,
    version: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    document: Option<serde_json::Value>,
}

/// A versioned model document, as carried on a model topic.
///
/// ```
/// use streams_ml::{load_model, Model, ModelEnvelope, ModelFormat};
///
/// let doc = br#"{"model_type": "linear", "features": ["x"], "coefficients": [3.0], "intercept": 1.0}"#;
/// let record_value = ModelEnvelope::new(ModelFormat::JsonLinear, 4, doc.to_vec()).to_bytes();
///
/// let model = load_model("tripler", &record_value)?;
/// assert_eq!((model.name(), model.version(), model.format()), ("tripler", 4, ModelFormat::JsonLinear));
/// assert_eq!(model.predict(&[2.0])?.score(), Some(7.0));
/// # Ok::<(), streams_ml::ModelError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelEnvelope {
    /// The document's format.
    pub format: ModelFormat,
    /// The model version.
    pub version: u64,
    /// Free-form annotations.
    pub metadata: BTreeMap<String, String>,
    /// The model document's bytes.
    pub payload: Vec<u8>,
}

impl ModelEnvelope {
    /// An envelope without metadata.
    pub fn new(format: ModelFormat, version: u64, payload: Vec<u8>) -> Self {
        ModelEnvelope {
            format,
            version,
            metadata: BTreeMap::new(),
            payload,
        }
    }

    /// Adds an annotation, builder style.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Encodes the envelope as JSON; a `json-linear` payload that is a JSON object is inlined
    /// as `document`, anything else is base64-encoded in `payload`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let inline = match self.format {
            ModelFormat::JsonLinear => serde_json::from_slice::<serde_json::Value>(&self.payload)
                .ok()
                .filter(serde_json::Value::is_object),
            _ => None,
        };
        let raw = RawEnvelope {
            envelope_version: Some(ENVELOPE_VERSION),
            format: self.format.as_str().to_string(),
            version: self.version,
            metadata: self.metadata.clone(),
            payload: inline.is_none().then(|| STANDARD.encode(&self.payload)),
            document: inline,
        };
        // Plain data with string keys always serialises.
        serde_json::to_vec(&raw).unwrap_or_default()
    }

    /// Decodes an envelope (the model document itself is not parsed).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let raw: RawEnvelope =
            serde_json::from_slice(bytes).map_err(|e| ModelError::malformed(FORMAT, e.to_string()))?;
        if let Some(v) = raw.envelope_version {
            if v != ENVELOPE_VERSION {
                return Err(ModelError::unsupported(FORMAT, format!("envelope_version {v}")));
            }
        }
        let format: ModelFormat = raw.format.parse()?;
        let payload = match (raw.payload, raw.document) {
            (Some(p), None) => STANDARD
                .decode(p.as_bytes())
                .map_err(|e| ModelError::malformed(FORMAT, format!("payload is not base64: {e}")))?,
            (None, Some(doc)) if format == ModelFormat::JsonLinear && doc.is_object() => {
                serde_json::to_vec(&doc).map_err(|e| ModelError::malformed(FORMAT, e.to_string()))?
            }
            (None, Some(_)) => {
                return Err(ModelError::malformed(
                    FORMAT,
                    "an inline `document` must be a JSON object of format json-linear",
                ))
            }
            _ => {
                return Err(ModelError::malformed(
                    FORMAT,
                    "exactly one of `payload` and `document` is required",
                ))
            }
        };
        Ok(ModelEnvelope {
            format,
            version: raw.version,
            metadata: raw.metadata,
            payload,
        })
    }

    /// Loads the enclosed document as a model with the given name.
    pub fn load(&self, name: &str) -> Result<Arc<dyn Model>, ModelError> {
        load_document(self.format, name, self.version, &self.payload)
    }
}

/// Loads a model from a model-topic record: `name` is the record key, `bytes` the value (a
/// [`ModelEnvelope`]).
pub fn load_model(name: &str, bytes: &[u8]) -> Result<Arc<dyn Model>, ModelError> {
    ModelEnvelope::from_bytes(bytes)?.load(name)
}

/// Loads a bare model document of a known format (for example a file).
///
/// ```
/// use streams_ml::{load_document, Features, ModelFormat};
///
/// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/pmml/iris_tree.pmml");
/// let bytes = std::fs::read(path).expect("test model");
/// let model = load_document(ModelFormat::Pmml, "iris", 1, &bytes)?;
/// // The tree only uses the petal measurements; other named features are ignored.
/// assert_eq!(model.inputs().len(), 2);
/// let flower = Features::new()
///     .with("sepal_length", 5.1)
///     .with("sepal_width", 3.5)
///     .with("petal_length", 1.4)
///     .with("petal_width", 0.2);
/// assert_eq!(model.predict_named(&flower)?.label(), Some("setosa"));
/// # Ok::<(), streams_ml::ModelError>(())
/// ```
pub fn load_document(
    format: ModelFormat,
    name: &str,
    version: u64,
    bytes: &[u8],
) -> Result<Arc<dyn Model>, ModelError> {
    Ok(match format {
        ModelFormat::JsonLinear => Arc::new(LinearModel::from_slice(name, version, bytes)?),
        ModelFormat::Pmml => Arc::new(PmmlModel::from_slice(name, version, bytes)?),
        ModelFormat::Onnx => Arc::new(OnnxModel::from_slice(name, version, bytes)?),
    })
}
