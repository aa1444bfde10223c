/// Whether a pool's helper threads are worth waking, judged from the loops
/// they just took part in.
///
/// On a quiet machine they always are. On a shared one, a helper that the
/// OS takes away while it holds a chunk makes the caller wait for a time
/// slice (milliseconds), while a small model's whole loop is a few
/// microseconds of work: with one busy neighbour, 2-thread decode of the
/// bundled model fell to about half of what one thread alone managed. So
/// every shared loop is weighed: the time the helpers' chunks would have
/// cost the caller (its own time per chunk, at most twice its usual, times
/// their chunks) against the time it lost: waiting for them, and any time
/// slice it lost itself inside its own chunks. When the losses outweigh the
/// saving over recent loops by more than half a millisecond, the caller runs its
/// loops alone for a while, then tries the helpers again; the while doubles
/// each time the trial fails soon after, so a machine that stays busy is
/// probed seldom.
///
/// Which thread runs a chunk never changes its result, so neither does this.
struct HelperPayoff {
    /// Decay per loop of the sums below: they weigh about the last thousand
    /// loops. (A hundred let one time slice lost to a neighbour at nice 19
    /// outweigh what the helpers saved on the 124M shape's decode, whose
    /// 2-thread rate then fell to the 1-thread one for a spell; a thousand
    /// gained 10% there, and a neighbour that takes half the core still
    /// sends the bundled model's small loops solo.)
    static let decay = 0.999
    static let shortestSolo: Duration = .milliseconds(20)
    static let longestSolo: Duration = .seconds(1)
    /// Seconds: the least the OS takes from a thread it deschedules for
    /// another (a time slice is milliseconds).
    static let slice = 100e-6

    /// Seconds the helpers saved and the caller lost, over recent loops.
    private(set) var saved = 0.0
    private(set) var waited = 0.0
    /// The caller's usual seconds per chunk, for each chunk count seen (a
    /// loop's count stands for its kind: a decode pass repeats the same few).
    private var usualChunk: [Int: Double] = [:]
    /// How long the next solo spell lasts.
    private(set) var solo = shortestSolo
    /// When the current (or last) solo spell ends; loops before then run on the caller alone.
    private(set) var soloUntil: ContinuousClock.Instant?

    /// True while the caller should run its loops alone.
    func runsAlone(at now: ContinuousClock.Instant) -> Bool {
        soloUntil.map { now < $0 } ?? false
    }

    /// Records one shared loop: the caller ran `mine` chunks in `working`
    /// seconds, the helpers `theirs`, and after its last chunk the caller
    /// waited `waiting` seconds for theirs to finish.
    mutating func record(mine: Int, theirs: Int, working: Double, waiting: Double, at now: ContinuousClock.Instant) {
        // The caller claims first, so `mine` is 0 only when a helper took
        // every chunk while the caller was away: they saved it all.
        let measured = mine > 0 ? working / Double(mine) : waiting / Double(max(1, theirs))
        // A time slice the caller lost inside its own chunks is not what a
        // chunk costs: taken at face value it made the helpers' chunks look
        // dear, and a busy machine look like one where they pay. So a chunk
        // counts at most twice its usual time, and a lost slice (more than
        // `slice` beyond that) counts as lost to the helpers too: alone, with
        // one thread fewer competing for the cores, the caller would more
        // likely have kept its core. (Chunks that merely vary, by a few
        // microseconds, are no slice lost.)
        let chunks = mine + theirs
        let usual = usualChunk[chunks] ?? measured
        let perChunk = min(measured, 2 * usual)
        usualChunk[chunks] = 0.9 * usual + 0.1 * perChunk
        let lostSlice = working - perChunk * Double(mine)
        saved = saved * Self.decay + perChunk * Double(theirs)
        waited = waited * Self.decay + waiting + (lostSlice > Self.slice ? lostSlice : 0)
        // Net losses under half a millisecond are noise (a helper parked a
        // moment too early); a time slice lost is milliseconds.
        guard waited > saved + 0.0005 else { return }
        // A trial that failed within a few spells' time of the last one: stay alone longer.
        if let last = soloUntil, now - last < solo * 4 {
            solo = min(solo * 2, Self.longestSolo)
        } else {
            solo = Self.shortestSolo
        }
        soloUntil = now + solo
        saved = 0
        waited = 0
    }
}
