//! The module graph of src/ has no cycle (docs/ARCHITECTURE.md, "Checking the
//! module graph"). Nodes are the top-level modules, and the submodules of
//! `emit`, `verify` and `analyze`; an edge is any path one of them names into
//! another: `use crate::...` / `use super::...` trees (grouped, over several
//! lines), and `crate::x::y` / `super::x` paths written inline in code. Comments
//! and string literals are skipped, so a doc link or an SQL text is no edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules whose submodules are nodes of their own.
const SPLIT_MODULES: [&str; 3] = ["emit", "verify", "analyze"];

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
}

/// Tokens of Rust source with their line numbers; comments, strings and
/// character literals are dropped.
fn tokenize(src: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = src.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let ident_char = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(chars[i] == '\n');
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_string(&chars, i + 1, &mut line);
        } else if let Some(end) = raw_string_start(&chars, i) {
            // r"..", r#".."#, br"..": ends at a quote followed by as many #.
            let hashes = end - i - usize::from(c == 'b') - 1;
            i = end + 1;
            while i < chars.len() {
                if chars[i] == '"' && (1..=hashes).all(|h| at(i + h) == '#') {
                    i += hashes + 1;
                    break;
                }
                line += usize::from(chars[i] == '\n');
                i += 1;
            }
        } else if c == 'b' && at(i + 1) == '"' {
            i = skip_string(&chars, i + 2, &mut line);
        } else if c == '\'' || (c == 'b' && at(i + 1) == '\'') {
            let open = if c == 'b' { i + 1 } else { i };
            if at(open + 1) == '\\' {
                // An escaped character literal: '\n', '\'', '\u{..}'.
                i = open + 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(open + 2) == '\'' {
                i = open + 3;
            } else {
                // A lifetime or a label: its name is read as an identifier.
                i = open + 1;
            }
        } else if ident_char(c) {
            let start = i;
            while i < chars.len() && ident_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if !c.is_ascii_digit() {
                tokens.push((Token::Ident(word), line));
            }
        } else if c == ':' && at(i + 1) == ':' {
            tokens.push((Token::PathSep, line));
            i += 2;
        } else {
            if !c.is_whitespace() {
                tokens.push((Token::Punct(c), line));
            }
            i += 1;
        }
    }
    tokens
}

/// Index just past the closing quote of a string whose text starts at `i`.
fn skip_string(chars: &[char], mut i: usize, line: &mut usize) -> usize {
    while i < chars.len() && chars[i] != '"' {
        if chars[i] == '\\' {
            i += 1;
        }
        *line += usize::from(chars.get(i) == Some(&'\n'));
        i += 1;
    }
    i + 1
}

/// For a raw string starting at `i` (`r"`, `r#"`, `br"`), the index of its
/// opening quote; `None` when `i` starts something else.
fn raw_string_start(chars: &[char], i: usize) -> Option<usize> {
    let after_prefix = match (chars.get(i), chars.get(i + 1)) {
        (Some('r'), _) => i + 1,
        (Some('b'), Some('r')) => i + 2,
        _ => return None,
    };
    if i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_') {
        return None;
    }
    let mut j = after_prefix;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    (chars.get(j) == Some(&'"')).then_some(j)
}

/// One path a module names, as written: `["super", "deployed", "IndexCheck"]`.
#[derive(Debug, Clone, PartialEq)]
struct NamedPath {
    /// The module (by its full path) the text sits in, inline modules included.
    module: Vec<String>,
    segments: Vec<String>,
    /// Whether it came from a `use` tree (where a bare first segment may be a child module).
    in_use: bool,
    line: usize,
}

/// What one file names, and which of its child modules are tests.
#[derive(Debug, Default)]
struct FileScan {
    paths: Vec<NamedPath>,
    /// `#[cfg(test)] mod x;`: module paths of test modules in files of their own.
    test_modules: Vec<Vec<String>>,
}

/// Every `use` path and inline `crate::`/`super::`/`self::` path of a file
/// whose module path is `file_module`, outside its `#[cfg(test)]` modules
/// (tests may reach a sibling's fixtures; the crate itself does not).
fn scan_file(src: &str, file_module: &[String]) -> FileScan {
    let tokens = tokenize(src);
    let ident = |i: usize| match tokens.get(i) {
        Some((Token::Ident(w), _)) => Some(w.as_str()),
        _ => None,
    };
    let is = |i: usize, t: &Token| tokens.get(i).map(|(k, _)| k) == Some(t);
    let cfg_test = [
        Token::Punct('#'),
        Token::Punct('['),
        Token::Ident("cfg".to_string()),
        Token::Punct('('),
        Token::Ident("test".to_string()),
        Token::Punct(')'),
        Token::Punct(']'),
    ];
    let mut scan = FileScan::default();
    let paths = &mut scan.paths;
    // Inline modules open: (name, brace depth inside it, under cfg(test)).
    let mut inline: Vec<(String, usize, bool)> = Vec::new();
    let mut depth = 0;
    let mut next_is_test = false;
    let mut i = 0;
    while i < tokens.len() {
        let module: Vec<String> = file_module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(n, _, _)| n.clone()))
            .collect();
        let in_test = inline.iter().any(|(_, _, test)| *test);
        let line = tokens[i].1;
        if (0..cfg_test.len()).all(|k| is(i + k, &cfg_test[k])) {
            next_is_test = true;
            i += cfg_test.len();
            continue;
        }
        match &tokens[i].0 {
            Token::Punct('{') => {
                depth += 1;
                next_is_test = false;
            }
            Token::Punct('}') => {
                if inline.last().is_some_and(|(_, d, _)| *d == depth) {
                    inline.pop();
                }
                depth -= 1;
                next_is_test = false;
            }
            Token::Punct(';') => next_is_test = false,
            Token::Ident(w) if w == "mod" => {
                let test = std::mem::take(&mut next_is_test);
                match (ident(i + 1), tokens.get(i + 2).map(|(t, _)| t)) {
                    (Some(name), Some(Token::Punct('{'))) => {
                        inline.push((name.to_string(), depth + 1, test || in_test));
                        depth += 1;
                        i += 3;
                        continue;
                    }
                    (Some(name), Some(Token::Punct(';'))) if test || in_test => {
                        let mut child = module.clone();
                        child.push(name.to_string());
                        scan.test_modules.push(child);
                    }
                    _ => {}
                }
            }
            _ if in_test => {}
            Token::Ident(w) if w == "use" => {
                let mut trees = Vec::new();
                i = use_tree(&tokens, i + 1, &mut Vec::new(), &mut trees);
                if is(i, &Token::Punct(';')) {
                    i += 1;
                }
                paths.extend(trees.into_iter().map(|segments| NamedPath {
                    module: module.clone(),
                    segments,
                    in_use: true,
                    line,
                }));
                continue;
            }
            Token::Ident(w)
                if matches!(w.as_str(), "crate" | "super" | "self")
                    && is(i + 1, &Token::PathSep)
                    && !(i > 0 && is(i - 1, &Token::PathSep)) =>
            {
                let mut segments = vec![w.clone()];
                i += 1;
                while is(i, &Token::PathSep) {
                    match ident(i + 1) {
                        Some(next) => segments.push(next.to_string()),
                        None => break,
                    }
                    i += 2;
                }
                paths.push(NamedPath {
                    module,
                    segments,
                    in_use: false,
                    line,
                });
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    scan
}

/// Reads one use tree from `i` with the segments before it in `prefix`;
/// pushes each full path onto `out`; returns the index after the tree.
fn use_tree(
    tokens: &[(Token, usize)],
    mut i: usize,
    prefix: &mut Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    let token = |i: usize| tokens.get(i).map(|(t, _)| t);
    let outer = prefix.len();
    loop {
        match token(i) {
            Some(Token::PathSep) => i += 1,
            Some(Token::Ident(w)) => {
                i += 1;
                if token(i) == Some(&Token::PathSep) {
                    prefix.push(w.clone());
                    i += 1;
                    continue;
                }
                let mut path = prefix.clone();
                path.push(w.clone());
                out.push(path);
                if matches!(token(i), Some(Token::Ident(a)) if a == "as") {
                    i += 2;
                }
                break;
            }
            Some(Token::Punct('*')) => {
                out.push(prefix.clone());
                i += 1;
                break;
            }
            Some(Token::Punct('{')) => {
                i += 1;
                loop {
                    match token(i) {
                        Some(Token::Punct('}')) => {
                            i += 1;
                            break;
                        }
                        Some(Token::Punct(',')) => i += 1,
                        None => break,
                        Some(_) => {
                            let before = i;
                            i = use_tree(tokens, i, prefix, out);
                            if i == before {
                                // Not a use tree after all: stop rather than spin.
                                break;
                            }
                        }
                    }
                }
                break;
            }
            _ => break,
        }
    }
    prefix.truncate(outer);
    i
}

/// The crate's modules, from the files under src/: module path -> file.
fn module_files(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut modules = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
                .path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let Ok(relative) = path.strip_prefix(src) else {
                continue;
            };
            if path.extension().is_none_or(|e| e != "rs") || relative == Path::new("main.rs") {
                // main.rs is the binary: its `crate::` is another crate.
                continue;
            }
            let mut module: Vec<String> = relative
                .with_extension("")
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            modules.insert(module, path);
        }
    }
    modules
}

/// The graph node a module path belongs to, if it is inside the crate's modules.
fn node_of(path: &[String], modules: &BTreeMap<Vec<String>, PathBuf>) -> Option<String> {
    let top = path.first()?;
    if !modules.contains_key(&vec![top.clone()]) {
        return None;
    }
    match path.get(1) {
        Some(sub)
            if SPLIT_MODULES.contains(&top.as_str())
                && modules.contains_key(&vec![top.clone(), sub.clone()]) =>
        {
            Some(format!("{top}::{sub}"))
        }
        _ => Some(top.clone()),
    }
}

/// The module path a named path points into, or `None` for another crate.
fn resolve(named: &NamedPath, modules: &BTreeMap<Vec<String>, PathBuf>) -> Option<Vec<String>> {
    let mut base = named.module.clone();
    let mut rest = named.segments.iter().peekable();
    match rest.peek().map(|s| s.as_str()) {
        Some("crate") => {
            base.clear();
            rest.next();
        }
        Some("self") => {
            rest.next();
        }
        Some("super") => {
            while rest.peek().map(|s| s.as_str()) == Some("super") {
                base.pop()?;
                rest.next();
            }
        }
        Some(first) if named.in_use => {
            // A bare `use child::x` names a child module of this one.
            let mut child = base.clone();
            child.push(first.to_string());
            modules.get(&child)?;
        }
        _ => return None,
    }
    base.extend(rest.filter(|s| *s != "self").cloned());
    Some(base)
}

/// Edges between nodes, each with the first place that makes it (`file:line`).
fn module_graph(src: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let modules = module_files(src);
    let scans: Vec<(&PathBuf, FileScan)> = modules
        .iter()
        .map(|(module, file)| {
            let text = std::fs::read_to_string(file)
                .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
            (file, scan_file(&text, module))
        })
        .collect();
    let test_modules: Vec<&Vec<String>> = scans.iter().flat_map(|(_, s)| &s.test_modules).collect();
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (file, scan) in &scans {
        for named in &scan.paths {
            if test_modules.iter().any(|t| named.module.starts_with(t)) {
                continue;
            }
            let (Some(from), Some(to)) = (
                node_of(&named.module, &modules),
                resolve(named, &modules).and_then(|p| node_of(&p, &modules)),
            ) else {
                continue;
            };
            if from != to {
                let place = format!("{}:{}", file.display(), named.line);
                graph.entry(from).or_default().entry(to).or_insert(place);
            }
        }
    }
    graph
}

/// Strongly connected components of more than one node (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeMap<String, String>>) -> Vec<BTreeSet<String>> {
    struct Search<'g> {
        graph: &'g BTreeMap<String, BTreeMap<String, String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<BTreeSet<String>>,
    }
    impl<'g> Search<'g> {
        fn visit(&mut self, node: &'g str) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            for next in self.graph.get(node).into_iter().flat_map(|e| e.keys()) {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.stack.contains(&next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = BTreeSet::new();
                while let Some(top) = self.stack.pop() {
                    component.insert(top.to_string());
                    if top == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.found.push(component);
                }
            }
        }
    }
    let mut search = Search {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !search.index.contains_key(node.as_str()) {
            search.visit(node);
        }
    }
    search.found
}

/// One cycle inside `component`, as `a -> b (file:line)` lines back to `a`.
fn describe_cycle(
    component: &BTreeSet<String>,
    graph: &BTreeMap<String, BTreeMap<String, String>>,
) -> String {
    let Some(start) = component.iter().next() else {
        return String::new();
    };
    // Breadth-first from start's successors back to start, within the component.
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.as_str()]);
    while let Some(node) = queue.pop_front() {
        for next in graph.get(node).into_iter().flat_map(|e| e.keys()) {
            if !component.contains(next) || came_from.contains_key(next.as_str()) {
                continue;
            }
            came_from.insert(next, node);
            if next == start {
                queue.clear();
                break;
            }
            queue.push_back(next);
        }
    }
    let mut path = vec![start.as_str()];
    let mut node = start.as_str();
    while let Some(previous) = came_from.get(node) {
        path.push(previous);
        node = previous;
        if node == start {
            break;
        }
    }
    path.reverse();
    path.windows(2)
        .map(|w| format!("  {} -> {}  ({})", w[0], w[1], graph[w[0]][w[1]]))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_module_graph_has_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    assert!(
        graph.contains_key("emit::migrations") && graph.contains_key("verify::deployed"),
        "the graph misses modules it must hold: {:?}",
        graph.keys().collect::<Vec<_>>()
    );
    let failures: Vec<String> = cycles(&graph)
        .into_iter()
        .map(|c| {
            format!(
                "cycle among {:?}:\n{}",
                c.iter().collect::<Vec<_>>(),
                describe_cycle(&c, &graph)
            )
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn paths_are_read_from_use_trees_and_code() {
    let cases: [(&str, Vec<Vec<&str>>); 8] = [
        (
            "use crate::a::b;\nuse std::fmt;",
            vec![vec!["crate", "a", "b"], vec!["std", "fmt"]],
        ),
        (
            "use crate::{\n    a::b,\n    c::{d, e as f},\n};",
            vec![
                vec!["crate", "a", "b"],
                vec!["crate", "c", "d"],
                vec!["crate", "c", "e"],
            ],
        ),
        (
            "pub(crate) use super::{self, x::*};",
            vec![vec!["super", "self"], vec!["super", "x"]],
        ),
        (
            "fn f() -> String { format!(\"{}\", crate::collect::SQL_TAG) }",
            vec![vec!["crate", "collect", "SQL_TAG"]],
        ),
        (
            "pub(crate) fn f(x: &crate::a::T) -> super::b::U { todo!() }",
            vec![vec!["crate", "a", "T"], vec!["super", "b", "U"]],
        ),
        (
            "// use crate::comment;\n/* crate::block::x /* nested */ */\nconst S: &str = \"crate::string\";\nconst R: &str = r#\"use crate::raw;\"#;\nconst C: char = '{';",
            vec![],
        ),
        (
            "use crate::a;\n#[cfg(test)]\nmod tests {\n    use crate::fixture;\n    mod inner { fn f() { crate::x::y(); } }\n}\nuse crate::b;",
            vec![vec!["crate", "a"], vec!["crate", "b"]],
        ),
        (
            "fn f<'a>(x: &'a str) { let _ = crate::after_lifetime::g(x); }",
            vec![vec!["crate", "after_lifetime", "g"]],
        ),
    ];
    for (src, expected) in cases {
        let found: Vec<Vec<String>> = scan_file(src, &strings(&["m"]))
            .paths
            .into_iter()
            .map(|p| p.segments)
            .collect();
        let expected: Vec<Vec<String>> = expected.iter().map(|p| strings(p)).collect();
        assert_eq!(found, expected, "{src}");
    }
}

#[test]
fn paths_resolve_from_the_module_they_sit_in() {
    let modules: BTreeMap<Vec<String>, PathBuf> = [
        vec!["emit"],
        vec!["emit", "text"],
        vec!["verify"],
        vec!["verify", "measure"],
        vec!["verify", "outcome"],
        vec!["snapshot"],
    ]
    .into_iter()
    .map(|m| (strings(&m), PathBuf::new()))
    .collect();
    // (source text, file module, expected nodes named)
    let cases: [(&str, &[&str], Vec<&str>); 5] = [
        (
            "use super::outcome::IndexCheck;",
            &["verify", "measure"],
            vec!["verify::outcome"],
        ),
        (
            "mod inline { use super::*; }",
            &["verify", "measure"],
            vec!["verify::measure"],
        ),
        (
            "use crate::snapshot::{Snapshot, Table};",
            &["emit", "text"],
            vec!["snapshot", "snapshot"],
        ),
        (
            "pub use measure::run;",
            &["verify"],
            vec!["verify::measure"],
        ),
        (
            "use crate::emit::write_atomically;",
            &["emit", "text"],
            vec!["emit"],
        ),
    ];
    for (src, module, expected) in cases {
        let nodes: Vec<String> = scan_file(src, &strings(module))
            .paths
            .iter()
            .filter_map(|p| resolve(p, &modules).and_then(|p| node_of(&p, &modules)))
            .collect();
        assert_eq!(nodes, strings(&expected), "{src}");
    }
}

#[test]
fn every_cycle_is_found() {
    let graph_of = |edges: &[(&str, &str)]| {
        let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (a, b) in edges {
            graph
                .entry(a.to_string())
                .or_default()
                .insert(b.to_string(), "here".to_string());
        }
        graph
    };
    // (edges, the cycles found)
    let cases: [(&[(&str, &str)], usize); 4] = [
        (&[("a", "b"), ("b", "c")], 0),
        (&[("a", "b"), ("b", "c"), ("c", "a")], 1),
        (&[("cli", "config"), ("config", "cli")], 1),
        (&[("cli", "config"), ("config", "run"), ("run", "cli")], 1),
    ];
    for (edges, expected) in cases {
        let graph = graph_of(edges);
        let found = cycles(&graph);
        for c in &found {
            assert!(describe_cycle(c, &graph).contains("->"), "{edges:?}");
        }
        assert_eq!(found.len(), expected, "{edges:?}");
    }
}
