import Foundation
import Glibc

/// Starts helper processes (dnsmasq, kubectl, the harness scripts) the way these tests need them.
///
/// Foundation's `Process` is avoided here: its exit monitoring hung under concurrent tests, and its
/// children inherit the test runner's blocked signals, so a SIGTERM never reached them. Children get an
/// empty signal mask and default dispositions, and write to files rather than pipes, whose write ends a
/// long-lived daemon started by a script would otherwise inherit and keep open.
enum ChildProcess {
    struct SpawnFailed: Error, CustomStringConvertible {
        let path: String
        let errno: Int32
        var description: String { "cannot start \(path): \(String(cString: strerror(errno)))" }
    }

    /// Spawns `arguments` (the first is an absolute path). `stderr` nil shares `stdout`'s file; `truncate`
    /// starts the output files empty instead of appending; `environment` nil inherits this process's.
    static func spawn(
        _ arguments: [String], stdin: String = "/dev/null", stdout: String = "/dev/null", stderr: String? = nil,
        truncate: Bool = false, environment: [String: String]? = nil
    ) throws(SpawnFailed) -> pid_t {
        let mode = O_WRONLY | O_CREAT | (truncate ? O_TRUNC : O_APPEND)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, mode, 0o644)
        if let stderr {
            posix_spawn_file_actions_addopen(&actions, 2, stderr, mode, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGPIPE, SIGCHLD, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { $0.map { strdup("\($0)=\($1)") } + [nil] }
        defer { for pointer in argv + (envp ?? []) { free(pointer) } }
        var pid: pid_t = 0
        let result = envp.map { envp in posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp) }
            ?? posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environ)
        guard result == 0 else { throw SpawnFailed(path: arguments[0], errno: result) }
        return pid
    }

    /// Blocks until `pid` exits; its exit code, or 128+signal when killed.
    static func exitStatus(of pid: pid_t) -> Int32 {
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) == -1 && errno == EINTR {}
        // WIFEXITED/WEXITSTATUS are macros: exit code in bits 8-15, signal in the low 7 bits.
        return (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
    }

    /// Waits on a thread of its own, so no concurrency thread blocks while the code under test needs them.
    static func waitForExit(_ pid: pid_t) async -> Int32 {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            Thread.detachNewThread { continuation.resume(returning: exitStatus(of: pid)) }
        }
    }
}
