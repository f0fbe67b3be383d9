//! Generates Temper's own records and service (temper/v1/*.proto) and the tonic server traits
//! and clients for Temporal's WorkflowService and OperatorService and Temper's own Cluster service. Temporal's message types
//! are not generated again: they come from the `temporalio-protos` crate, whose
//! build script publishes its descriptor set.

use std::path::PathBuf;

use prost::Message;
use protox::file::{ChainFileResolver, DescriptorSetFileResolver, IncludeFileResolver};

const OWN_PROTOS: &[&str] = &["temper/v1/log.proto", "temper/v1/state.proto", "temper/v1/cluster.proto"];
const SERVED_SERVICES: &[&str] = &[
    "temporal/api/workflowservice/v1/service.proto",
    "temporal/api/operatorservice/v1/service.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let descriptor_path = std::env::var("DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH")
        .map_err(|_| "temporalio-protos did not publish its descriptor set")?;
    println!("cargo:rerun-if-changed={descriptor_path}");
    println!("cargo:rerun-if-changed=temper");
    let temporal_set = prost_types::FileDescriptorSet::decode(std::fs::read(&descriptor_path)?.as_slice())?;

    let mut resolver = ChainFileResolver::new();
    resolver.add(IncludeFileResolver::new(PathBuf::from(".")));
    resolver.add(DescriptorSetFileResolver::new(temporal_set.clone()));
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    // prost needs every message the generated code refers to, so the whole
    // Temporal set goes in; its types are extern and only its services are
    // generated.
    compiler.include_imports(true);
    compiler.open_files(OWN_PROTOS)?;
    let mut to_generate = compiler.file_descriptor_set();
    let already_present: Vec<String> = to_generate.file.iter().map(|f| f.name().to_string()).collect();
    to_generate
        .file
        .extend(temporal_set.file.into_iter().filter(|file| !already_present.iter().any(|name| name == file.name())));
    for file in &mut to_generate.file {
        if !SERVED_SERVICES.contains(&file.name()) && !OWN_PROTOS.contains(&file.name()) {
            file.service.clear();
        }
    }

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .generate_default_stubs(true)
        .extern_path(".temporal.api", "::temporalio_protos::temporal::api")
        // Served with the history already encoded; see src/raw.rs.
        .extern_path(
            ".temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryResponse",
            "crate::raw::GetWorkflowExecutionHistoryResponse",
        )
        .compile_fds(to_generate)?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    name_unimplemented_methods(&out_dir.join("temporal.api.workflowservice.v1.rs"), "WorkflowService")?;
    name_unimplemented_methods(&out_dir.join("temporal.api.operatorservice.v1.rs"), "OperatorService")?;
    name_unimplemented_methods(&out_dir.join("temper.v1.rs"), "Cluster")?;
    Ok(())
}

/// tonic's default stubs answer every unwritten RPC with the same anonymous
/// message; rewrite each so a user learns which RPC Temper lacks.
fn name_unimplemented_methods(path: &std::path::Path, service: &str) -> std::io::Result<()> {
    const STUB: &str = "tonic::Status::unimplemented(\"Not yet implemented\")";
    let source = std::fs::read_to_string(path)?;
    let mut rewritten = String::with_capacity(source.len());
    let mut current_method = String::new();
    for line in source.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("async fn ") {
            current_method = rest.split(['(', '<']).next().unwrap_or_default().to_string();
        }
        if line.contains(STUB) {
            let message = format!(
                "tonic::Status::unimplemented(\"{service}.{} is not implemented by Temper\")",
                pascal_case(&current_method)
            );
            rewritten.push_str(&line.replace(STUB, &message));
        } else {
            rewritten.push_str(line);
        }
        rewritten.push('\n');
    }
    std::fs::write(path, rewritten)
}

fn pascal_case(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}
