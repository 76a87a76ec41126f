// The commands the UI may call: one table, read by two macros. `ipc.rs` makes the Tauri
// commands and the UI's TypeScript of it; `build.rs` includes this file too and takes the names
// for the permissions. So: no `use` lines and no inner docs here (paths are written in full),
// and each body is a line or two into the crates.

commands! {
    /// The profile to start on: the built-in server, or the one from `--connect` /
    /// `TACK_CONNECT`.
    fn initial_profile(state: tauri::State<'_, crate::state::AppState>;) -> tack_client::Profile {
        Ok(state.initial.clone())
    }

    /// The built-in server's address, publish address and launch secret (starting it if it
    /// is not running), for the user's own scripts.
    fn builtin_server(state: tauri::State<'_, crate::state::AppState>;) -> tack_client::BuiltinServer {
        state.builtin().await
    }

    /// Connects `profile` beside the servers already connected (a session already on this
    /// server is replaced). `server` is its key — the profile's URL without a trailing `/`,
    /// as the history and search name it — which every per-server command below takes first.
    /// This server's engine events arrive in batches on `onEvent` until the next `connect` or
    /// `disconnect` of it.
    fn connect(
        state: tauri::State<'_, crate::state::AppState>;
        server: String,
        profile: tack_client::Profile,
        on_event: tauri::ipc::Channel<tack_client::EventBatch>
    ) -> () {
        state.connect(server, profile, on_event).await
    }

    /// Closes the connection to `server`; the other servers' stay.
    fn disconnect(state: tauri::State<'_, crate::state::AppState>; server: String) -> () {
        state.disconnect(&server).await;
        Ok(())
    }

    /// Enters a room, resuming after the last event stored of it (what was said meanwhile
    /// arrives once; a gap marks what the server no longer holds).
    fn enter(state: tauri::State<'_, crate::state::AppState>; server: String, room: String) -> () {
        state.follow(&server, tack_client::Target::Room(room)).await
    }

    fn leave(state: tauri::State<'_, crate::state::AppState>; server: String, room: String) -> () {
        state.unfollow(&server, tack_client::Target::Room(room)).await
    }

    /// Queues a chat message; returns its client id. `send` events follow: pending → sent |
    /// failed.
    fn send(
        state: tauri::State<'_, crate::state::AppState>;
        server: String,
        room: String,
        comment: String
    ) -> String {
        state.with_session(&server, |s| s.send(&room, &comment)).await
    }

    fn retry_send(state: tauri::State<'_, crate::state::AppState>; server: String, cid: String) -> () {
        state.with_session(&server, |s| s.retry_send(&cid)).await
    }

    /// Watches a channel, resuming after the last item stored of it.
    fn watch(state: tauri::State<'_, crate::state::AppState>; server: String, channel: String) -> () {
        state.follow(&server, tack_client::Target::Channel(channel)).await
    }

    fn unwatch(state: tauri::State<'_, crate::state::AppState>; server: String, channel: String) -> () {
        state.unfollow(&server, tack_client::Target::Channel(channel)).await
    }

    /// The rooms and channels that were open on `server` when the app last closed, rooms
    /// first: the window opens them again.
    fn open_places(state: tauri::State<'_, crate::state::AppState>; server: String) -> Vec<tack_client::Target> {
        state.history.open_places(&server).await
    }

    /// The newest `limit` stored events of a room or channel on `server`, oldest first, gaps
    /// where they fall: shown at once, before the server answers.
    fn history(
        state: tauri::State<'_, crate::state::AppState>;
        server: String,
        target: tack_client::Target,
        limit: usize
    ) -> Vec<tack_history::HistoryEvent> {
        state.history.recent(&server, target, limit).await
    }

    /// Searches everything stored, every server: words, "phrases", prefix*, -word, from:,
    /// in:, server:, after:, before:. A mistake in the query is refused with what to change.
    fn search(state: tauri::State<'_, crate::state::AppState>; query: String, limit: usize) -> Vec<tack_history::SearchHit> {
        state.history.search(query, limit).await
    }

    /// A search hit (its `key`) with up to `before` stored events before it and `after`
    /// after it in its room or channel.
    fn search_context(
        state: tauri::State<'_, crate::state::AppState>;
        key: i64,
        before: usize,
        after: usize
    ) -> Vec<tack_history::HistoryEvent> {
        state.history.context(key, before, after).await
    }

    /// The history file's size and its cap.
    fn store_info(state: tauri::State<'_, crate::state::AppState>;) -> tack_history::StoreInfo {
        state.history.info().await
    }

    /// Sets the history's size cap (kept in the file); a lower one removes the oldest now.
    fn set_history_cap(state: tauri::State<'_, crate::state::AppState>; max_bytes: u64) -> tack_history::StoreInfo {
        state.history.set_cap(max_bytes).await
    }

    /// Removes everything stored, on every server.
    fn forget_history(state: tauri::State<'_, crate::state::AppState>;) -> () {
        state.history.forget().await
    }

    fn set_nick(state: tauri::State<'_, crate::state::AppState>; server: String, nick: String) -> () {
        state.with_session(&server, |s| s.set_nick(&nick)).await
    }

    /// Skips the reconnect back-off and tries now.
    fn retry_now(state: tauri::State<'_, crate::state::AppState>; server: String) -> () {
        state
            .with_session(&server, |s| {
                s.retry_now();
                Ok(())
            })
            .await
    }

    /// Sets the monitor's jq query (`filter` keeps items, `map` shows what it yields of each;
    /// blank fields are none); answers its generation, which the verdicts on items name, and
    /// its verdicts on the newest items already delivered. A mistake is refused with its field
    /// and column, and the query in force stays.
    fn set_monitor_query(
        state: tauri::State<'_, crate::state::AppState>;
        server: String,
        filter: String,
        map: String
    ) -> tack_client::query::QueryApplied {
        state.set_monitor_query(&server, filter, map).await
    }

    /// A binary item (as the engine carries it, base64) as hex, and as MessagePack or CBOR
    /// when it is one.
    fn decode_binary(; payload: String) -> tack_client::binary::BinaryView {
        tack_client::binary::view_base64(&payload)
    }

    /// Writes the engine's kept items of `channels` as JSON Lines to `path` (chosen by the user
    /// in the save dialog); answers how many lines were written.
    fn export_jsonl(
        state: tauri::State<'_, crate::state::AppState>;
        server: String,
        path: String,
        channels: Vec<String>
    ) -> usize {
        state.export_jsonl(&server, &path, &channels).await
    }

    /// Starts recording the items of `targets` to `path` (chosen in the save dialog) as they
    /// arrive, in the export's format; `recording` events count what is written.
    fn start_recording(
        state: tauri::State<'_, crate::state::AppState>;
        server: String,
        path: String,
        targets: Vec<tack_client::Target>
    ) -> () {
        state.start_recording(&server, path, targets).await
    }

    /// Stops the recording; answers how many items the file holds.
    fn stop_recording(state: tauri::State<'_, crate::state::AppState>; server: String) -> u64 {
        state.stop_recording(&server).await
    }

    /// Opens a recording (read by the engine; a bad line is refused with its line and column)
    /// for replay in `server`'s monitor, paused at its start; answers how many items it
    /// holds. Its items and `replay` events arrive on that server's `onEvent`.
    fn open_recording(state: tauri::State<'_, crate::state::AppState>; server: String, path: String) -> u64 {
        state.open_recording(&server, path).await
    }

    /// Plays, pauses, steps, seeks or changes the speed of the open recording's replay.
    fn steer_replay(
        state: tauri::State<'_, crate::state::AppState>;
        server: String,
        steer: tack_client::player::Steer
    ) -> () {
        state.steer_replay(&server, steer).await
    }

    /// Ends the replay.
    fn close_replay(state: tauri::State<'_, crate::state::AppState>; server: String) -> () {
        state.close_replay(&server).await;
        Ok(())
    }

    /// Shows a desktop notification; `body` is plain text and shows as typed.
    fn notify(app: tauri::AppHandle; title: String, body: String) -> () {
        crate::notify::show(&app, title, body).await
    }
}
