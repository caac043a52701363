//! Small helpers over `roxmltree` for reading PMML elements.

use roxmltree::Node;

use crate::ModelError;

pub(crate) const FORMAT: &str = "pmml";

pub(crate) fn malformed(reason: impl Into<String>) -> ModelError {
    ModelError::malformed(FORMAT, reason)
}

pub(crate) fn unsupported(reason: impl Into<String>) -> ModelError {
    ModelError::unsupported(FORMAT, reason)
}

/// The element's local name (namespaces are ignored).
pub(crate) fn name<'a>(node: Node<'a, '_>) -> &'a str {
    node.tag_name().name()
}

/// Element children, skipping `Extension` elements.
pub(crate) fn elements<'a, 'input>(node: Node<'a, 'input>) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children().filter(|c| c.is_element() && name(*c) != "Extension")
}

/// The first element child with the given local name.
pub(crate) fn child<'a, 'input>(node: Node<'a, 'input>, tag: &str) -> Option<Node<'a, 'input>> {
    elements(node).find(|c| name(*c) == tag)
}

/// All element children with the given local name.
pub(crate) fn children_named<'a, 'input>(
    node: Node<'a, 'input>,
    tag: &'static str,
) -> impl Iterator<Item = Node<'a, 'input>> {
    elements(node).filter(move |c| name(*c) == tag)
}

pub(crate) fn attr<'a>(node: Node<'a, '_>, key: &str) -> Option<&'a str> {
    node.attribute(key)
}

pub(crate) fn req_attr<'a>(node: Node<'a, '_>, key: &str) -> Result<&'a str, ModelError> {
    node.attribute(key)
        .ok_or_else(|| malformed(format!("<{}> lacks attribute `{key}`", name(node))))
}

/// Parses a finite number.
pub(crate) fn parse_number(text: &str, what: &str) -> Result<f64, ModelError> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(malformed(format!("{what}: `{text}` is not a finite number"))),
    }
}

pub(crate) fn num_attr(node: Node<'_, '_>, key: &str) -> Result<Option<f64>, ModelError> {
    attr(node, key)
        .map(|t| parse_number(t, &format!("<{}> attribute `{key}`", name(node))))
        .transpose()
}

pub(crate) fn req_num_attr(node: Node<'_, '_>, key: &str) -> Result<f64, ModelError> {
    parse_number(req_attr(node, key)?, &format!("<{}> attribute `{key}`", name(node)))
}

/// Splits the content of a PMML `<Array>`: whitespace-separated tokens, where a token may be a
/// double-quoted string with `\"` escapes.
pub(crate) fn array_tokens(text: &str) -> Result<Vec<String>, ModelError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut token = String::new();
        if first == '"' {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some(escaped) => token.push(escaped),
                        None => break,
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    other => token.push(other),
                }
            }
            if !closed {
                return Err(malformed("unterminated string in <Array>"));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                token.push(c);
                chars.next();
            }
        }
        tokens.push(token);
    }
    Ok(tokens)
}
