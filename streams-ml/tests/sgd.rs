//! The SGD learner: updates, convergence, snapshots and state round-trips.

use streams_ml::linear::LinearKind;
use streams_ml::{
    load_model, Features, LearningRate, Model, ModelEnvelope, ModelError, ModelFormat, SgdConfig, SgdLearner,
};

/// A small deterministic generator (xorshift64*), uniform in [-1, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        (bits as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("x{i}")).collect()
}

fn plain(kind: LinearKind, eta: f64) -> SgdConfig {
    SgdConfig {
        learning_rate: LearningRate::Constant { eta },
        l2: 0.0,
        standardize: false,
        ..SgdConfig::new(kind)
    }
}

#[test]
fn one_logistic_step_follows_the_gradient() -> Result<(), ModelError> {
    let mut learner = SgdLearner::new(names(2), plain(LinearKind::Logistic, 0.1))?;
    let loss = learner.learn(&[1.0, 2.0], 1.0)?;
    assert!((loss - std::f64::consts::LN_2).abs() < 1e-15);
    // p = 0.5, gradient = p - y = -0.5, w -= 0.1 * gradient * x
    assert_eq!(learner.coefficients(), &[0.05, 0.1]);
    assert_eq!(learner.intercept(), 0.05);
    assert_eq!(learner.examples_seen(), 1);
    Ok(())
}

#[test]
fn one_linear_step_with_l2_follows_the_gradient() -> Result<(), ModelError> {
    let config = SgdConfig {
        l2: 0.5,
        ..plain(LinearKind::Linear, 0.1)
    };
    let mut learner = SgdLearner::new(names(1), config)?;
    learner.learn(&[2.0], 4.0)?; // y = 0, gradient = -4: w = 0.8, b = 0.4
    learner.learn(&[1.0], 0.0)?; // y = 1.2, gradient = 1.2: w = 0.8 - 0.1 * (1.2 + 0.4) = 0.64
    assert!((learner.coefficients()[0] - 0.64).abs() < 1e-15);
    assert!((learner.intercept() - 0.28).abs() < 1e-15);
    Ok(())
}

#[test]
fn logistic_learner_recovers_a_separating_model() -> Result<(), ModelError> {
    let mut rng = Rng(42);
    let mut learner = SgdLearner::new(names(2), SgdConfig::new(LinearKind::Logistic))?;
    let truth = |x: &[f64]| 1.0 / (1.0 + (-(4.0 * x[0] - 2.0 * x[1] + 0.5)).exp());
    for _ in 0..30_000 {
        let x = [rng.next() * 3.0, rng.next() + 5.0];
        let label = if rng.next() * 0.5 + 0.5 < truth(&x) { 1.0 } else { 0.0 };
        learner.learn(&x, label)?;
    }
    let model = learner.snapshot("clicks", 1)?;
    let mut correct = 0;
    let mut total_error = 0.0;
    for _ in 0..1000 {
        let x = [rng.next() * 3.0, rng.next() + 5.0];
        let p = model.predict(&x)?;
        let expected = if truth(&x) > 0.5 { "1" } else { "0" };
        if p.label() == Some(expected) {
            correct += 1;
        }
        total_error += (p.probability("1").unwrap_or(-1.0) - truth(&x)).abs();
    }
    assert!(correct >= 950, "{correct}/1000 correct");
    let mean_error = total_error / 1000.0;
    assert!(mean_error < 0.05, "probabilities off by {mean_error} on average");
    Ok(())
}

#[test]
fn linear_learner_recovers_the_coefficients() -> Result<(), ModelError> {
    let mut rng = Rng(7);
    let config = SgdConfig {
        learning_rate: LearningRate::InverseScaling {
            eta0: 0.05,
            power_t: 0.25,
        },
        l2: 0.0,
        standardize: false,
        ..SgdConfig::new(LinearKind::Linear)
    };
    let mut learner = SgdLearner::new(names(3), config)?;
    for _ in 0..50_000 {
        let x = [rng.next(), rng.next(), rng.next()];
        let y = 3.0 * x[0] - 2.0 * x[1] + 0.5 * x[2] + 1.0 + 0.01 * rng.next();
        learner.learn(&x, y)?;
    }
    for (got, want) in learner.coefficients().iter().zip([3.0, -2.0, 0.5]) {
        assert!((got - want).abs() < 0.02, "{:?}", learner.coefficients());
    }
    assert!((learner.intercept() - 1.0).abs() < 0.02);
    Ok(())
}

#[test]
fn snapshots_predict_exactly_what_the_learner_predicts() -> Result<(), ModelError> {
    for (kind, standardize) in [
        (LinearKind::Linear, false),
        (LinearKind::Linear, true),
        (LinearKind::Logistic, false),
        (LinearKind::Logistic, true),
    ] {
        let mut rng = Rng(3);
        let config = SgdConfig {
            standardize,
            ..SgdConfig::new(kind)
        };
        let mut learner = SgdLearner::new(names(3), config)?;
        for _ in 0..500 {
            let x = [rng.next() * 10.0, rng.next() + 3.0, rng.next() * 0.1];
            let label = if x[0] > 0.0 { 1.0 } else { 0.0 };
            learner.learn(&x, label)?;
        }
        let model = learner.snapshot("m", 9)?;
        for _ in 0..100 {
            let x = [rng.next() * 10.0, rng.next() + 3.0, rng.next() * 0.1];
            let learner_says = learner.predict(&x)?;
            let prediction = model.predict(&x)?;
            let model_says = match kind {
                LinearKind::Linear => prediction.score(),
                LinearKind::Logistic => prediction.probability("1"),
            }
            .unwrap_or(f64::NAN);
            assert!(
                (learner_says - model_says).abs() <= 1e-12,
                "{kind:?}/{standardize}: {learner_says} vs {model_says}"
            );
        }
    }
    Ok(())
}

#[test]
fn snapshots_publish_through_an_envelope() -> Result<(), ModelError> {
    let mut learner = SgdLearner::new(names(2), SgdConfig::new(LinearKind::Logistic))?;
    for i in 0..100 {
        let x = f64::from(i % 10) - 4.5;
        learner.learn(&[x, 1.0], if x > 0.0 { 1.0 } else { 0.0 })?;
    }
    let document = learner.to_document();
    assert_eq!(document.metadata.get("examples_seen").map(String::as_str), Some("100"));
    let record = ModelEnvelope::new(ModelFormat::JsonLinear, 12, document.to_vec()).to_bytes();
    let model = load_model("clicks", &record)?;
    assert_eq!(model.version(), 12);
    let direct = learner.snapshot("clicks", 12)?;
    for x in [-3.0, -0.5, 0.5, 3.0] {
        assert_eq!(model.predict(&[x, 1.0])?, direct.predict(&[x, 1.0])?);
    }
    Ok(())
}

#[test]
fn state_round_trips_and_training_resumes_identically() -> Result<(), ModelError> {
    let mut rng = Rng(11);
    let mut learner = SgdLearner::new(names(2), SgdConfig::new(LinearKind::Linear))?;
    for _ in 0..300 {
        let x = [rng.next(), rng.next()];
        learner.learn(&x, x[0] - x[1])?;
    }
    let mut restored = SgdLearner::from_bytes(&learner.to_bytes())?;
    assert_eq!(restored, learner);
    for _ in 0..300 {
        let x = [rng.next(), rng.next()];
        let a = learner.learn(&x, x[0] + x[1])?;
        let b = restored.learn(&x, x[0] + x[1])?;
        assert_eq!(a.to_bits(), b.to_bits());
    }
    assert_eq!(restored, learner);
    Ok(())
}

#[test]
fn named_examples_are_learned_by_name() -> Result<(), ModelError> {
    let mut a = SgdLearner::new(vec!["age".into(), "income".into()], plain(LinearKind::Linear, 0.01))?;
    let mut b = a.clone();
    a.learn(&[30.0, 2.0], 1.0)?;
    b.learn_named(
        &Features::new().with("income", 2.0).with("age", 30.0).with("extra", "x"),
        1.0,
    )?;
    assert_eq!(a, b);
    assert_eq!(
        b.learn_named(&Features::new().with("age", 1.0), 0.0),
        Err(ModelError::MissingFeature("income".into()))
    );
    assert!(matches!(
        b.learn_named(&Features::new().with("age", 1.0).with("income", "high"), 0.0),
        Err(ModelError::InvalidFeature { .. })
    ));
    Ok(())
}

#[test]
fn bad_examples_are_rejected_and_leave_the_learner_unchanged() -> Result<(), ModelError> {
    let mut learner = SgdLearner::new(names(2), plain(LinearKind::Logistic, 0.1))?;
    learner.learn(&[1.0, 1.0], 1.0)?;
    let before = learner.clone();
    assert_eq!(
        learner.learn(&[1.0], 1.0),
        Err(ModelError::FeatureCount { expected: 2, actual: 1 })
    );
    assert!(matches!(
        learner.learn(&[f64::NAN, 1.0], 1.0),
        Err(ModelError::InvalidFeature { .. })
    ));
    assert!(matches!(
        learner.learn(&[1.0, 1.0], 0.5),
        Err(ModelError::InvalidLabel { .. })
    ));
    assert!(matches!(
        learner.learn(&[1.0, 1.0], f64::INFINITY),
        Err(ModelError::InvalidLabel { .. })
    ));
    assert_eq!(learner, before);

    let mut diverging = SgdLearner::new(names(1), plain(LinearKind::Linear, 1e300))?;
    let mut result = Ok(0.0);
    for _ in 0..10 {
        let snapshot = diverging.clone();
        result = diverging.learn(&[1e10], 1e10);
        if result.is_err() {
            assert_eq!(diverging, snapshot);
            break;
        }
    }
    assert!(matches!(result, Err(ModelError::Evaluation(_))));
    assert!(diverging.coefficients().iter().all(|w| w.is_finite()));
    Ok(())
}

#[test]
fn invalid_configurations_and_states_are_rejected() -> Result<(), ModelError> {
    assert!(SgdLearner::new(vec![], SgdConfig::new(LinearKind::Linear)).is_err());
    assert!(SgdLearner::new(vec!["a".into(), "a".into()], SgdConfig::new(LinearKind::Linear)).is_err());
    assert!(SgdLearner::new(names(1), plain(LinearKind::Linear, -1.0)).is_err());
    let same_classes = SgdConfig {
        classes: ["x".into(), "x".into()],
        ..SgdConfig::new(LinearKind::Logistic)
    };
    assert!(SgdLearner::new(names(1), same_classes).is_err());

    let learner = SgdLearner::new(names(2), SgdConfig::new(LinearKind::Linear))?;
    let mut state: serde_json::Value =
        serde_json::from_slice(&learner.to_bytes()).map_err(|e| ModelError::Evaluation(e.to_string()))?;
    state["coefficients"] = serde_json::json!([1.0]);
    let bytes = serde_json::to_vec(&state).map_err(|e| ModelError::Evaluation(e.to_string()))?;
    assert!(matches!(
        SgdLearner::from_bytes(&bytes),
        Err(ModelError::Malformed { .. })
    ));
    state["coefficients"] = serde_json::json!([1.0, 2.0]);
    state["state_version"] = serde_json::json!(2);
    let bytes = serde_json::to_vec(&state).map_err(|e| ModelError::Evaluation(e.to_string()))?;
    assert!(matches!(
        SgdLearner::from_bytes(&bytes),
        Err(ModelError::Unsupported { .. })
    ));
    Ok(())
}
