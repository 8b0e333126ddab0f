"""Recurrent PPO (agents.recurrent_ppo): carry reset at dones inside the rollout, BPTT
recomputation alignment, GAE against a loop, and the cue-memory task (recurrent solves it, the
feed-forward twin stays at chance)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from brax.training.acme import running_statistics, specs
from memory_env import CueMemoryEnv, wrap

from agents import checkpoints
from agents.recurrent_ppo import GRUActorCritic, train
from agents.recurrent_ppo.rollout import (
    compute_gae,
    evaluate_sequences,
    ppo_loss,
    regress_out,
    rollout,
)
from agents.recurrent_ppo.train import (
    TrainState,
    init_params,
    init_training_state,
    make_training_step,
)

N_ENVS = 4
HIDDEN_STEPS = 2  # episodes of 3 steps: done at steps 2, 5, 8, ...


@dataclasses.dataclass(frozen=True)
class _NoResetGRU(GRUActorCritic):
    """The pitfall: a network that never resets its carry (negative control)."""

    def apply(self, params, carry, obs, reset):
        return super().apply(params, carry, obs, jnp.zeros_like(reset))


def _setup(network, unroll_length, seed=0):
    env = wrap(CueMemoryEnv(HIDDEN_STEPS), episode_length=100)
    k_env, k_init, k_roll = jax.random.split(jax.random.PRNGKey(seed), 3)
    state = env.reset(jax.random.split(k_env, N_ENVS))
    params = network.init(k_init, 2)
    norm = running_statistics.init_state(specs.Array((2,), jnp.float32))
    roll = jax.jit(lambda p, s, c, k: rollout(env, network, p, norm, s, c, k, unroll_length))
    return env, params, norm, state, roll, k_roll


def _zero_carry_values(network, params, norm, traj):
    """Values each step would have from a fresh (initial) carry: [T, B]."""
    obs = running_statistics.normalize(traj.obs, norm)
    zeros = network.initial_carry(N_ENVS)
    f = jax.vmap(lambda o: network.apply(params, zeros, o, jnp.zeros((N_ENVS,), bool))[2])
    return f(obs)


def test_network_reset_replaces_the_carry():
    net = GRUActorCritic(action_size=1, hidden_size=8)
    params = net.init(jax.random.PRNGKey(0), 2)
    obs = jnp.array([[1.0, 0.5], [1.0, 0.5]])
    carry = jnp.ones((2, 8))
    fresh = net.apply(params, net.initial_carry(2), obs, jnp.array([False, False]))
    out = net.apply(params, carry, obs, jnp.array([True, False]))
    np.testing.assert_array_equal(out[0][0], fresh[0][0])  # row 0 reset: as from zeros
    np.testing.assert_array_equal(out[2][0], fresh[2][0])
    assert not np.allclose(out[0][1], fresh[0][1])  # row 1 kept its carry


def _reset_rows_start_fresh(network) -> tuple[bool, np.ndarray, np.ndarray]:
    """Roll out 2 segments of 6 steps with ``network``; returns (its outputs at reset rows
    match a fresh carry, reset, done)."""
    net_true = GRUActorCritic(action_size=1, hidden_size=16)
    _, params, norm, state, roll, key = _setup(network, 6)  # same params as net_true
    carry = network.initial_carry(N_ENVS)
    rows_ok, resets, dones = [], [], []
    for k in jax.random.split(key, 2):
        state, carry, traj = roll(params, state, carry, k)
        fresh = _zero_carry_values(net_true, params, norm, traj)
        reset = np.asarray(traj.reset)
        # check the rollout's outputs under the *correct* network's reset semantics
        ok = np.allclose(np.asarray(traj.value)[reset], np.asarray(fresh)[reset], atol=1e-6)
        rows_ok.append(ok)
        resets.append(reset)
        dones.append(np.asarray(traj.done))
        # the carry matters where no reset happened (else the check could not fail)
        kept = ~reset
        kept[0] = False  # step 0 of segment 1 starts from zeros anyway
        assert np.all(np.abs(np.asarray(traj.value)[kept] - np.asarray(fresh)[kept]) > 1e-5)
    return all(rows_ok), np.concatenate(resets), np.concatenate(dones)


def test_rollout_resets_carry_after_done():
    net = GRUActorCritic(action_size=1, hidden_size=16)
    ok, reset, done = _reset_rows_start_fresh(net)
    # episodes of 3 steps: done at global steps 2, 5, 8, 11; reset one step later,
    # including across the segment boundary (step 6 is step 0 of segment 2)
    np.testing.assert_array_equal(done[:, 0], [0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1])
    np.testing.assert_array_equal(reset[1:], done[:-1] > 0)
    assert not reset[0].any() and reset[6].all()
    assert ok


def test_rollout_check_catches_a_network_that_does_not_reset():
    # same params as a GRUActorCritic, reset ignored: the reset-row check must fail
    ok, _, _ = _reset_rows_start_fresh(_NoResetGRU(action_size=1, hidden_size=16))
    assert not ok


def test_bptt_recomputation_reproduces_the_rollout():
    net = GRUActorCritic(action_size=1, hidden_size=16)
    _, params, norm, state, roll, key = _setup(net, 7)
    k1, k2 = jax.random.split(key)
    state, carry, _ = roll(params, state, net.initial_carry(N_ENVS), k1)  # nonzero carry0
    _, _, traj = roll(params, state, carry, k2)
    assert np.abs(np.asarray(traj.carry0)).max() > 1e-3
    mean, _, value = evaluate_sequences(net, params, norm, traj.carry0, traj.obs, traj.reset)
    np.testing.assert_allclose(mean, traj.action_mean, atol=1e-6)
    np.testing.assert_allclose(value, traj.value, atol=1e-6)
    adv = jnp.ones_like(traj.value)
    _, m = ppo_loss(net, params, norm, traj, adv, traj.value, 0.2, 0.0)
    assert abs(float(m["approx_kl"])) < 1e-6 and float(m["clip_fraction"]) == 0.0
    # misaligned resets (one step late) or a lost start carry do not reproduce it
    late = jnp.roll(traj.reset, 1, axis=0)
    _, _, v_late = evaluate_sequences(net, params, norm, traj.carry0, traj.obs, late)
    assert np.abs(np.asarray(v_late - traj.value)).max() > 1e-3
    zeros = net.initial_carry(N_ENVS)
    _, _, v_zero = evaluate_sequences(net, params, norm, zeros, traj.obs, traj.reset)
    assert np.abs(np.asarray(v_zero - traj.value)).max() > 1e-3


def test_training_step_first_minibatch_is_on_policy():
    """Shuffled env minibatches keep each sequence with its own start carry: before the first
    update the loss's log-probabilities equal the rollout's (approx_kl == 0)."""
    net = GRUActorCritic(action_size=1, hidden_size=16)
    env, params, norm, state, roll, key = _setup(net, 5)
    state, carry, _ = roll(params, state, net.initial_carry(N_ENVS), key)
    opt = optax.adam(1e-3)
    step = make_training_step(
        env, net, opt, num_envs=N_ENVS, unroll_length=5, num_minibatches=2,
        num_updates_per_batch=2, entropy_cost=0.0, discounting=0.9, gae_lambda=0.95,
        clipping_epsilon=0.2,
    )  # fmt: skip
    ts = TrainState(params, opt.init(params), norm, state, carry, key, jnp.zeros((), jnp.int32))
    ts2, m = jax.jit(step)(ts)
    assert abs(float(m["training/first_approx_kl"])) < 1e-6
    assert float(m["training/approx_kl"]) != 0.0  # later minibatches are off-policy
    assert int(ts2.env_steps) == N_ENVS * 5


def test_value_warmup_trains_the_critic_alone():
    """``value_warmup_steps``: before it only the parameters under "value" move (the policy
    and its noise stay as they are, though the value loss reaches them through the carry);
    from it on, all learn. A network without "value" parameters is refused clearly."""
    from agents.recurrent_ppo.networks import MLPActorCritic

    net = MLPActorCritic(action_size=1, policy_hidden=(8,), value_hidden=(8,))
    env, params, norm, state, roll, key = _setup(net, 5)
    opt = optax.adam(1e-2)
    kw = dict(
        num_envs=N_ENVS, unroll_length=5, num_minibatches=2, num_updates_per_batch=2,
        entropy_cost=1e-2, discounting=0.9, gae_lambda=0.95, clipping_epsilon=0.2,
        value_warmup_steps=N_ENVS * 5,
    )  # fmt: skip
    step = jax.jit(make_training_step(env, net, opt, **kw))
    ts = TrainState(params, opt.init(params), norm, state, net.initial_carry(N_ENVS), key,
                    jnp.zeros((), jnp.int32))  # fmt: skip
    moved = lambda a, b: jax.tree.map(lambda x, y: bool(jnp.any(x != y)), a, b)  # noqa: E731
    ts1, _ = step(ts)  # env steps 0 < 20: the critic alone
    changed = moved(params, ts1.params)
    assert all(jax.tree.leaves(changed["value"]))
    assert not any(jax.tree.leaves({k: v for k, v in changed.items() if k != "value"}))
    ts2, _ = step(ts1)  # env steps 20: everything
    assert all(jax.tree.leaves(moved(ts1.params, ts2.params)))
    gru = GRUActorCritic(action_size=1, hidden_size=4)
    env, params, norm, state, _, key = _setup(gru, 5)
    bad = make_training_step(env, gru, opt, **kw)
    ts = TrainState(params, opt.init(params), norm, state, gru.initial_carry(N_ENVS), key,
                    jnp.zeros((), jnp.int32))  # fmt: skip
    with pytest.raises(ValueError, match="'value' key"):  # flax names: Dense_0, GRUCell_0, ...
        bad(ts)


def _gae_loop(r, v, boot, done, trunc, g, lam):
    T = len(r)
    adv = np.zeros_like(r)
    acc = np.zeros_like(boot)
    for t in reversed(range(T)):
        nv = boot if t == T - 1 else v[t + 1]
        term = done[t] * (1 - trunc[t])
        delta = (r[t] + g * (1 - term) * nv - v[t]) * (1 - trunc[t])
        acc = delta + g * lam * (1 - term) * (1 - trunc[t]) * acc
        adv[t] = acc
    return adv


def test_gae_matches_a_loop():
    rng = np.random.default_rng(0)
    r, v = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    boot = rng.normal(size=3)
    done = np.zeros((6, 3))
    trunc = np.zeros((6, 3))
    done[2, 0] = 1  # terminated
    done[3, 1] = trunc[3, 1] = 1  # time limit
    adv, targets = compute_gae(*map(jnp.asarray, (r, v, boot, done, trunc)), 0.9, 0.8)
    np.testing.assert_allclose(adv, _gae_loop(r, v, boot, done, trunc, 0.9, 0.8), atol=1e-5)
    np.testing.assert_allclose(targets, adv + v, atol=1e-6)
    assert float(adv[3, 1]) == 0.0


def test_regress_out_removes_what_the_observation_explains():
    """A return dominated by an observed, nonlinear term (and a different one at episode
    starts) hides a small action effect; after regress_out the advantages follow the action,
    and the residual is orthogonal to every regressor."""
    rng = np.random.default_rng(0)
    f = rng.uniform(-1.5, 1.5, size=(50, 32, 2))
    start = np.zeros((50, 32), bool)
    start[::10] = True
    action = rng.normal(size=(50, 32))
    adv = 10 * f[..., 0] ** 2 - 4 * np.abs(f[..., 1]) + 3 * f[..., 1] + 5 * start + 0.2 * action
    res = np.asarray(regress_out(jnp.asarray(adv), jnp.asarray(f), jnp.asarray(start)))
    assert abs(np.corrcoef(adv.ravel(), action.ravel())[0, 1]) < 0.1
    assert np.corrcoef(res.ravel(), action.ravel())[0, 1] > 0.99
    x = np.concatenate([np.ones((50, 32, 1)), f, f**2, np.abs(f)], axis=-1)
    x = np.concatenate([x, x * start[..., None]], axis=-1).reshape(-1, 14)
    np.testing.assert_allclose(x.T @ res.ravel() / len(x), 0.0, atol=1e-4)
    without_start = np.asarray(regress_out(jnp.asarray(adv), jnp.asarray(f)))
    assert np.corrcoef(without_start.ravel(), action.ravel())[0, 1] < 0.9  # starts differ


def _one_training_step(**options):
    """The metrics of one jitted training step of a small GRU on the cue env, with the
    advantage-baseline ``options`` of :func:`make_training_step`."""
    net = GRUActorCritic(action_size=1, hidden_size=4)
    env, params, norm, state, _, key = _setup(net, 5)
    opt = optax.adam(1e-3)
    step = jax.jit(make_training_step(
        env, net, opt, num_envs=N_ENVS, unroll_length=5, num_minibatches=2,
        num_updates_per_batch=1, entropy_cost=0.0, discounting=0.9, gae_lambda=0.95,
        clipping_epsilon=0.2, **options,
    ))  # fmt: skip
    ts = TrainState(params, opt.init(params), norm, state, net.initial_carry(N_ENVS), key,
                    jnp.zeros((), jnp.int32))  # fmt: skip
    return step(ts)[1]


def test_baseline_obs_training_step_and_bad_columns():
    """``baseline_obs`` in a training step (still on policy at the first minibatch) and a
    column outside the observation refused with the valid range."""
    m = _one_training_step(baseline_obs=(0,))
    assert abs(float(m["training/first_approx_kl"])) < 1e-5
    with pytest.raises(ValueError, match=r"columns in \[0, 2\)"):
        train(CueMemoryEnv(), num_timesteps=8, num_envs=4, unroll_length=2, num_minibatches=2,
              wrap_env_fn=wrap, baseline_obs=(2,))  # fmt: skip


def test_baseline_metrics_are_stored_per_step_and_regressed_out():
    """``baseline_metrics``: the rollout stores the named env metrics of each step (the cue
    env's ``recall`` is its reward), a training step regresses the advantages on them (still on
    policy at the first minibatch), and a name that is not an env metric is refused with the
    valid ones."""
    net = GRUActorCritic(action_size=1, hidden_size=4)
    env, params, norm, state, _, key = _setup(net, 5)
    _, _, traj = jax.jit(
        lambda p, s, c, k: rollout(env, net, p, norm, s, c, k, 7, baseline_metrics=("recall",))
    )(params, state, net.initial_carry(N_ENVS), key)
    assert traj.baseline.shape == (7, N_ENVS, 1)
    np.testing.assert_array_equal(traj.baseline[..., 0], traj.reward)
    m = _one_training_step(baseline_metrics=("recall",))
    assert abs(float(m["training/first_approx_kl"])) < 1e-5
    with pytest.raises(ValueError, match=r"not env metrics; valid: \['recall'\]"):
        train(CueMemoryEnv(), num_timesteps=8, num_envs=4, unroll_length=2, num_minibatches=2,
              wrap_env_fn=wrap, baseline_metrics=("grating_speed_rad_s",))  # fmt: skip


def test_minibatches_must_divide_envs():
    env = wrap(CueMemoryEnv(HIDDEN_STEPS))
    with pytest.raises(ValueError, match="divide"):
        make_training_step(
            env, GRUActorCritic(1), optax.adam(1e-3), num_envs=6, unroll_length=4,
            num_minibatches=4, num_updates_per_batch=1, entropy_cost=0.0, discounting=0.9,
            gae_lambda=0.9, clipping_epsilon=0.2,
        )  # fmt: skip


MEMORY_KW = dict(
    num_timesteps=10_240, num_envs=32, unroll_length=16, num_minibatches=4,
    num_updates_per_batch=4, learning_rate=3e-3, entropy_cost=1e-2, discounting=0.9,
    hidden_size=32, wrap_env_fn=wrap, num_evals=2, num_eval_envs=256, seed=0,
)  # fmt: skip


def test_memory_task_recurrent_solves_feedforward_at_chance():
    """Cue at step 0, 3 hidden steps rewarded by cue * action: max return 3, chance 0."""
    env = CueMemoryEnv(hidden_steps=3)
    evals = {}
    for recurrent in (True, False):
        log: list[dict] = []
        _, m = train(
            env, recurrent=recurrent, progress_fn=lambda s, m, log=log: log.append(m), **MEMORY_KW
        )
        assert len(log) == 2 and abs(log[0]["eval/episode_reward"]) < 0.3  # chance at init
        evals[recurrent] = m["eval/episode_reward"]
    assert evals[True] > 0.8 * 3, evals
    assert abs(evals[False]) < 0.2 * 3, evals


def test_checkpoint_round_trip_and_restore(tmp_path):
    """policy_params_fn -> checkpoints.save -> checkpoints.load_params -> restore_params."""
    env = CueMemoryEnv(hidden_steps=2)
    kw = dict(
        num_timesteps=64, num_envs=8, unroll_length=4, num_minibatches=2,
        num_updates_per_batch=1, hidden_size=8, wrap_env_fn=wrap, num_evals=2, num_eval_envs=4,
    )  # fmt: skip
    saved = {}

    def save(step, params):
        saved[step] = params
        checkpoints.save(tmp_path, step, params, {"network": {"hidden_size": 8}})

    params, _ = train(env, policy_params_fn=save, **kw)
    assert sorted(saved) == [0, 64]
    template = init_params(GRUActorCritic(action_size=1, hidden_size=8), 2)
    loaded, meta = checkpoints.load_params(tmp_path, template)
    assert meta["step"] == 64
    jax.tree.map(np.testing.assert_array_equal, loaded, params)
    # the trained params differ from the start (the round trip could fail)
    assert not np.allclose(params["network"]["params"]["log_std"], 0.0)
    restored_start = {}
    train(env, restore_params=loaded, policy_params_fn=restored_start.setdefault, **kw)
    jax.tree.map(np.testing.assert_array_equal, restored_start[0], params)


def test_whole_training_state_round_trips_and_resumes(tmp_path):
    """checkpoint_fn -> checkpoints.save -> load_params(init_training_state) -> restore_state:
    Adam's moments and count, the RNG key and the step count continue."""
    env = CueMemoryEnv(hidden_steps=2)
    kw = dict(
        num_envs=8, unroll_length=4, num_minibatches=2, num_updates_per_batch=2,
        hidden_size=8, wrap_env_fn=wrap, num_evals=3, num_eval_envs=4, learning_rate=1e-3,
    )  # fmt: skip
    states = {}

    def keep(step, state):
        states[step] = state
        checkpoints.save(tmp_path, step, state, {"network": {"hidden_size": 8}})

    first = {}
    train(env, num_timesteps=128, checkpoint_fn=keep, progress_fn=first.__setitem__, **kw)
    assert sorted(states) == [64, 128]
    net = GRUActorCritic(action_size=1, hidden_size=8)
    template = init_training_state(net, 2, learning_rate=1e-3, max_grad_norm=0.5)
    ckpt = checkpoints.list_checkpoints(tmp_path)[0]
    loaded, meta = checkpoints.load_params(ckpt, template)
    assert meta["step"] == 64
    jax.tree.map(np.testing.assert_array_equal, loaded, states[64])
    adam = loaded["opt_state"][1][0]
    # 2 training steps of 2 epochs x 2 minibatches
    assert int(adam.count) == 8 and float(jnp.abs(adam.mu["params"]["log_std"]).sum()) > 0
    resumed, evaluated = {}, {}
    train(
        env, num_timesteps=64, checkpoint_fn=resumed.__setitem__, restore_state=loaded,
        progress_fn=evaluated.__setitem__, **kw,
    )  # fmt: skip
    assert sorted(resumed) == [96, 128]  # the step count continues
    assert sorted(evaluated) == [64, 96, 128]  # the first evaluation is of the restored step
    # ... on the run's own evaluation episodes: the curve goes on where it stopped
    evals = [k for k in first[64] if k.startswith("eval/")]
    assert {k: evaluated[64][k] for k in evals} == {k: first[64][k] for k in evals}
    end = resumed[128]
    assert int(end["env_steps"]) == 128
    assert int(end["opt_state"][1][0].count) == 2 * adam.count  # Adam's count continues
    with pytest.raises(ValueError, match="not both"):
        train(env, num_timesteps=64, restore_state=loaded, restore_params=loaded, **kw)


@pytest.mark.slow
def test_trains_on_flyenvs_walk_with_the_default_wrapper():
    """Smoke: Walk (C MuJoCo backend, dict observation flattened by wrap_for_training)."""
    import flyenvs.brax

    env = flyenvs.brax.make(
        "Walk", backend="mujoco", n_threads=1, action_mode="cpg", episode_length=10
    )
    log = []
    params, m = train(
        env, num_timesteps=80, num_envs=4, unroll_length=5, num_minibatches=2,
        num_updates_per_batch=1, hidden_size=16, num_evals=2, num_eval_envs=2,
        progress_fn=lambda s, m: log.append(s),
    )  # fmt: skip
    assert log == [0, 80]
    assert params["normalizer"].mean.shape == (env.task.observation_size,)
    assert np.isfinite(m["eval/episode_reward"]) and m["eval/avg_episode_length"] == 10
    assert abs(m["training/first_approx_kl"]) < 1e-5
