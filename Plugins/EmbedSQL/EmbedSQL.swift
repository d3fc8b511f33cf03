import Foundation
import PackagePlugin

/// Compiles a target's `SQL/` folder into the target: every `.sql` file becomes a string in a
/// generated `EmbeddedSQL.files`, so the binary carries its schema and needs no resource bundle.
///
/// The folder is excluded from the target in Package.swift (SwiftPM would otherwise warn about
/// unhandled files); the plugin lists it itself and declares each file as an input, so editing
/// or adding a file regenerates the Swift source.
@main
struct EmbedSQL: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let folder = target.directoryURL.appending(path: "SQL")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path())) ?? []
        let inputs = names.filter { $0.hasSuffix(".sql") }.sorted().map { folder.appending(path: $0) }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedSQL.swift")
        return [.buildCommand(
            displayName: "Embedding \(inputs.count) SQL files into \(target.name)",
            executable: try context.tool(named: "EmbedSQLTool").url,
            arguments: [output.path()] + inputs.map { $0.path() },
            inputFiles: inputs,
            outputFiles: [output])]
    }
}
