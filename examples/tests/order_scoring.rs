//! The order-scoring example in the testkit: every scored order, exactly, against models
//! computed offline.

use examples::order_scoring::{
    initial_model, labelled_orders, learner_config, run_demo, topology, OrderScore, CLASSES, DEMO_ORDERS, MODEL,
};
use streams_ml::{load_model, Model, SgdLearner};

#[test]
fn orders_are_scored_by_v1_then_by_the_version_learned_on_the_stream() -> Result<(), Box<dyn std::error::Error>> {
    let v1 = load_model(MODEL, &initial_model())?;
    let mut learner = SgdLearner::new(vec!["orderunits".into()], learner_config())?;
    for (x, label) in labelled_orders() {
        learner.learn(&[x], label)?;
    }
    let v2 = learner.snapshot(MODEL, 2)?;
    let score = |model: &dyn Model, units: f64| -> Result<OrderScore, Box<dyn std::error::Error>> {
        let p = model.predict(&[units])?;
        Ok(OrderScore {
            orderunits: units,
            decision: p.label().ok_or("no label")?.to_owned(),
            probability: p.probability(CLASSES[1]).ok_or("no probability")?,
            model: MODEL.to_owned(),
            version: model.version(),
        })
    };
    let mut expected = Vec::new();
    for model in [&*v1, &v2 as &dyn Model] {
        for units in DEMO_ORDERS {
            expected.push(score(model, units)?);
        }
    }

    let run = run_demo()?;
    assert_eq!(run.scores, expected);
    assert_eq!(run.published, vec![2]);
    // Version 1 is `1 / (1 + exp(-(10 x + 2)))`.
    assert_eq!(run.scores[2].probability, 1.0 / (1.0 + (-(10.0 * 0.4 + 2.0f64)).exp()));
    // The learned model agrees with version 1 on these orders.
    let decisions: Vec<&str> = run.scores.iter().map(|s| s.decision.as_str()).collect();
    assert_eq!(
        decisions,
        ["approve", "approve", "review", "review", "approve", "approve", "review", "review"]
    );
    assert_eq!(run.decisions, vec![("approve".to_owned(), 4), ("review".to_owned(), 4)]);
    Ok(())
}

#[test]
fn the_topology_has_the_model_loader_the_scorer_and_the_learner() -> Result<(), Box<dyn std::error::Error>> {
    let description = topology()?.describe().to_string();
    for node in [
        "order-models-model-source",
        "order-models-model-checker",
        "score-orders",
        "learn-order-risk",
    ] {
        assert!(description.contains(node), "{node} missing from\n{description}");
    }
    Ok(())
}
