//! The heart-risk example in the testkit: every prediction and the confusion matrix, against
//! the offline model applied to the test rows.

use examples::heart_risk::{cell, rows, run_demo, Confusion, Row, AT_RISK, MODEL, MODEL_JSON};
use streams_ml::{load_document, Features, ModelFormat};

#[test]
fn test_patients_are_scored_and_the_confusion_matrix_matches_the_offline_model(
) -> Result<(), Box<dyn std::error::Error>> {
    let model = load_document(ModelFormat::JsonLinear, MODEL, 1, MODEL_JSON.as_bytes())?;
    let test: Vec<Row> = rows()?.into_iter().filter(Row::is_test).collect();
    assert_eq!(test.len(), 50);
    let mut expected = Vec::new();
    let mut counts: Vec<(String, i64)> = Vec::new();
    for row in &test {
        let features = Features::new()
            .with("age", row.patient.age)
            .with("sex", row.patient.sex)
            .with("trestbps", row.patient.trestbps);
        let label = model.predict_named(&features)?.label().ok_or("no label")?.to_owned();
        let c = cell(&label, Some(row.target));
        match counts.iter_mut().find(|(name, _)| name == c) {
            Some((_, n)) => *n += 1,
            None => counts.push((c.to_owned(), 1)),
        }
        expected.push((row.id.to_string(), label));
    }
    counts.sort();

    let run = run_demo()?;
    assert_eq!(run.predictions, expected);
    assert_eq!(run.counts, counts);
    assert_eq!(run.confusion, Confusion::from_counts(&counts));
    assert_eq!(run.confusion.total(), 50);
    assert!(run.predictions.iter().any(|(_, l)| l == AT_RISK));
    // The offline model does well on rows it was not trained on.
    assert!(run.confusion.accuracy() >= 0.8, "accuracy {}", run.confusion.accuracy());
    Ok(())
}
