"""The connectome Walk policy (agents.connectome_walk): readout -> VNC -> chunked joint targets.
Untrained it walks (the VNC's own rhythm at the nominal drive); PPO's gradient reaches the VNC's
type-level parameters through the action mean, and none of them when the VNC is frozen."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brax.training.acme import running_statistics, specs

import flyenvs.brax
from agents import connectome_walk
from agents.recurrent_ppo.networks import gaussian_log_prob
from agents.recurrent_ppo.rollout import policy_step

N_ENVS, STEPS = 8, 75  # 1.5 s of 20 ms control steps


@pytest.fixture(scope="module")
def env():
    return flyenvs.brax.make(
        "Walk", backend="mujoco", action_mode="joints", action__joints__n_chunk=2,
        episode_length=STEPS,
    )  # fmt: skip


def _normalizer(size: int):
    return running_statistics.init_state(specs.Array((size,), jnp.float32))


def _held_rollout(env, steps: int = 6, **options):
    """A held-DN-noise policy (std exp(-0.5), a small random readout) rolled out for ``steps``
    from 4 episode starts: ``(pol, params, norm, final carry, traj)``."""
    from agents.recurrent_ppo.rollout import rollout

    pol = connectome_walk.make(
        env.task, dn_noise=True, init_dn_log_std=-0.5, dn_noise_corr=1.0, **options
    )
    n_dn, obs_size = pol.circuit.n_inputs, env.task.observation_size
    params = pol.init(jax.random.PRNGKey(0), obs_size)
    params["readout"]["w"] = 0.05 * jax.random.normal(jax.random.PRNGKey(3), (obs_size, n_dn))
    norm = _normalizer(obs_size)
    wrapped = flyenvs.brax.wrap_for_training(env, episode_length=STEPS)
    state = wrapped.reset(jax.random.split(jax.random.PRNGKey(1), 4))
    state = state.replace(done=jnp.ones_like(state.done))  # the first step starts an episode
    _, carry, traj = jax.jit(lambda p, s, c, k: rollout(wrapped, pol, p, norm, s, c, k, steps))(
        params, state, pol.initial_carry(4), jax.random.PRNGKey(2)
    )
    return pol, params, norm, carry, traj


def _dn_log_prob(pol, norm, traj):
    """``params -> [T, B]``: the stored DN latents' log-probability re-evaluated over ``traj``."""
    from agents.recurrent_ppo.rollout import evaluate_sequences

    n_dn = pol.circuit.n_inputs

    def log_prob(p):
        mean, log_std, _ = evaluate_sequences(
            pol, p, norm, traj.carry0, traj.obs, traj.reset, traj.raw_action
        )
        return gaussian_log_prob(traj.raw_action[..., :n_dn], mean[..., :n_dn], log_std[..., :n_dn])

    return jax.jit(log_prob)


def test_untrained_policy_walks_forward_without_falling(env):
    pol = connectome_walk.make(env.task)
    assert pol.action_size == env.action_size == 96 and pol.n_sub == 10
    obs_size = env.task.observation_size
    params = pol.init(jax.random.PRNGKey(0), obs_size)
    norm = _normalizer(obs_size)
    wrapped = flyenvs.brax.wrap_for_training(env, episode_length=STEPS)

    def body(c, _):
        s, carry = c
        carry, a, _ = policy_step(pol, params, norm, carry, s.obs, s.done > 0, None)
        s = wrapped.step(s, a)
        return (s, carry), (s.metrics["forward_speed_mm_s"], s.done)

    start = (wrapped.reset(jax.random.split(jax.random.PRNGKey(1), N_ENVS)), None)
    start = (start[0], pol.initial_carry(N_ENVS))
    _, (speed, done) = jax.jit(lambda c: jax.lax.scan(body, c, None, length=STEPS))(start)
    speed = np.asarray(speed)[25:]  # after 0.5 s
    assert not np.asarray(done)[:-1].any(), "the nominal VNC gait fell"
    assert 2.0 < speed.mean() < 6.0, speed.mean()  # the "vnc" mode's zero action: ~3 mm/s


def _log_prob_grads(pol, obs_size):
    params = pol.init(jax.random.PRNGKey(0), obs_size)
    obs = jax.random.normal(jax.random.PRNGKey(1), (4, obs_size))
    carry = pol.initial_carry(4)
    action = jax.random.normal(jax.random.PRNGKey(2), (4, pol.action_size))

    def loss(p):
        _, (mean, log_std), value = pol.apply(p, carry, obs, jnp.zeros((4,), bool))
        return jnp.sum(gaussian_log_prob(action, mean, log_std)) + jnp.sum(value)

    return jax.grad(loss)(params)


def test_policy_gradient_reaches_the_vnc_parameters_unless_frozen(env):
    obs_size = env.task.observation_size
    grads = _log_prob_grads(connectome_walk.make(env.task), obs_size)
    for name in ("tau_s", "gain", "threshold", "strength", "joint_amplitude_rad"):
        assert bool(jnp.any(grads["vnc"][name] != 0)), name
    assert bool(jnp.any(grads["readout"]["w"] != 0))
    frozen = _log_prob_grads(connectome_walk.make(env.task, trainable=()), obs_size)
    assert all(not bool(jnp.any(g != 0)) for g in jax.tree.leaves(frozen["vnc"]))
    assert bool(jnp.any(frozen["readout"]["w"] != 0))


def test_dn_noise_explores_at_the_dns_and_reevaluates_exactly(env):
    """``dn_noise``: the rollout draws the DN drive (a latent stage) and stores it with the
    action; re-evaluating the stored trajectory reproduces its log-probabilities and values
    (approx-KL 0: the carries see the same drives); the PPO loss's gradient reaches the
    readout, the DN noise and the VNC's parameters; the deterministic policy is the mean."""
    from agents.recurrent_ppo.rollout import evaluate_sequences, latent_size, ppo_loss, rollout

    pol = connectome_walk.make(env.task, dn_noise=True, init_dn_log_std=-0.5, dn_noise_corr=0.9)
    n_dn = pol.circuit.n_inputs
    assert latent_size(pol) == n_dn == 6 and latent_size(connectome_walk.make(env.task)) == 0
    obs_size = env.task.observation_size
    params = pol.init(jax.random.PRNGKey(0), obs_size)
    params["readout"]["w"] = 0.05 * jax.random.normal(jax.random.PRNGKey(3), (obs_size, n_dn))
    norm = _normalizer(obs_size)
    wrapped = flyenvs.brax.wrap_for_training(env, episode_length=STEPS)
    state = wrapped.reset(jax.random.split(jax.random.PRNGKey(1), 4))
    roll = jax.jit(lambda p, s, c, k: rollout(wrapped, pol, p, norm, s, c, k, 6))
    _, _, traj = roll(params, state, pol.initial_carry(4), jax.random.PRNGKey(2))
    assert traj.raw_action.shape == (6, 4, n_dn + pol.action_size)
    drawn = traj.raw_action[..., :n_dn] - traj.action_mean[..., :n_dn]
    assert 0.1 < float(jnp.std(drawn)) < 0.5  # the innovation: 0.61 * sqrt(1 - 0.81) = 0.26
    mean, _, value = jax.jit(
        lambda p: evaluate_sequences(
            pol, p, norm, traj.carry0, traj.obs, traj.reset, traj.raw_action
        )  # fmt: skip
    )(params)
    np.testing.assert_allclose(mean, traj.action_mean, atol=1e-5)
    np.testing.assert_allclose(value, traj.value, atol=1e-5)
    adv = jax.random.normal(jax.random.PRNGKey(4), traj.value.shape)

    def loss(p):
        return ppo_loss(pol, p, norm, traj, adv, traj.value, 0.2, 0.0)

    (_, m), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(params)
    assert abs(float(m["approx_kl"])) < 1e-5
    for name in ("tau_s", "strength"):
        assert bool(jnp.any(grads["vnc"][name] != 0)), name
    assert bool(jnp.any(grads["readout"]["w"] != 0)) and bool(jnp.any(grads["dn_log_std"] != 0))
    carry = pol.initial_carry(4)
    _, action, (raw, _, mean0, _, _) = policy_step(
        pol, params, norm, carry, traj.obs[0], jnp.ones((4,), bool), None
    )
    np.testing.assert_array_equal(raw[:, :n_dn], mean0[:, :n_dn])  # deterministic: the mean
    assert action.shape == (4, pol.action_size)
    # with a zero readout the latent is the noise itself: an AR(1) of lag-1 correlation 0.9
    still = {**params, "readout": jax.tree.map(jnp.zeros_like, params["readout"])}
    _, _, long = jax.jit(lambda p, s, c, k: rollout(wrapped, pol, p, norm, s, c, k, 30))(
        still, state, pol.initial_carry(4), jax.random.PRNGKey(5)
    )
    z = np.asarray(long.raw_action[:, :, :n_dn]).reshape(30, -1)
    lag1 = np.mean([np.corrcoef(z[:-1, i], z[1:, i])[0, 1] for i in range(z.shape[1])])
    assert 0.5 < lag1 < 1.0, lag1  # short series bias it below 0.9; independent noise: ~0


def test_dn_noise_can_start_stationary(env):
    """``dn_noise_stationary``: an episode's first DN draw has the stationary std
    ``exp(dn_log_std)``, later ones the AR(1) innovation's ``sqrt(1 - rho^2)`` of it; without
    the option the first draw is an innovation too (runs saved before it explore as before)."""
    rho, log_std = 0.98, -0.5
    innovation = log_std + 0.5 * np.log(1 - rho**2)
    obs = jnp.zeros((2, env.task.observation_size))
    reset = jnp.asarray([True, False])
    for stationary, first in ((True, log_std), (False, innovation)):
        pol = connectome_walk.make(
            env.task, dn_noise=True, init_dn_log_std=log_std, dn_noise_corr=rho,
            dn_noise_stationary=stationary,
        )  # fmt: skip
        params = pol.init(jax.random.PRNGKey(0), env.task.observation_size)
        noise = jnp.ones((2, pol.latent_size))
        _, (_, std), _, latent = pol.apply(params, pol.initial_carry(2), obs, reset, noise=noise)
        n_dn = pol.latent_size
        np.testing.assert_allclose(std[:, :n_dn], [[first] * n_dn, [innovation] * n_dn], atol=1e-6)
        np.testing.assert_allclose(latent[0], np.exp(first), rtol=1e-5)  # readout 0 + std * 1


def test_dn_noise_held_for_the_episode_counts_its_draw_once(env):
    """``dn_noise_corr = 1``: the DN drive's deviation from the readout is drawn at an episode
    start and held; only that draw enters PPO's ratio (later steps: log-ratio 0 under any
    parameters), re-evaluation is exact, the first draw's gradient reaches the readout and the
    noise's std, and the critic sees the held deviation."""
    pol, params, norm, _, traj = _held_rollout(env)
    n_dn, obs_size = pol.circuit.n_inputs, env.task.observation_size
    assert pol.dn_noise_held and not connectome_walk.make(env.task, dn_noise=True).dn_noise_held
    assert params["value"][0]["w"].shape[0] == obs_size + pol.circuit.network.n_neurons + n_dn
    assert bool(jnp.all(traj.reset[0])) and not bool(jnp.any(traj.reset[1:]))
    dev = np.asarray(traj.raw_action[..., :n_dn] - traj.action_mean[..., :n_dn])
    assert 0.3 < float(np.std(dev[0])) < 1.0  # the first step draws at exp(-0.5) = 0.61
    np.testing.assert_array_equal(dev[1:], 0.0)  # later steps: the latent is its own mean
    latent = np.asarray(traj.raw_action[..., :n_dn])
    readout = np.asarray(traj.obs) @ np.asarray(params["readout"]["w"])  # identity normaliser
    held = latent - readout - np.asarray(params["readout"]["b"])
    np.testing.assert_allclose(held[1:], np.broadcast_to(held[0], held[1:].shape), atol=1e-4)

    lp = _dn_log_prob(pol, norm, traj)
    np.testing.assert_allclose(lp(params), traj.log_prob - gaussian_log_prob(
        traj.raw_action[..., n_dn:], traj.action_mean[..., n_dn:],
        jnp.broadcast_to(params["log_std"], traj.action_mean[..., n_dn:].shape),
    ), atol=1e-4)  # fmt: skip
    moved = {**params, "readout": jax.tree.map(lambda x: x + 0.1, params["readout"])}
    change = np.asarray(lp(moved) - lp(params))
    np.testing.assert_allclose(change[1:], 0.0, atol=1e-5)  # held steps: log-ratio 0
    assert np.all(np.abs(change[0]) > 1e-4)  # the episode's draw: the readout moves it
    grads = jax.grad(lambda p: jnp.sum(lp(p)[0]))(params)
    assert bool(jnp.any(grads["readout"]["w"] != 0)) and bool(jnp.any(grads["dn_log_std"] != 0))
    late = jax.grad(lambda p: jnp.sum(lp(p)[1:]))(params)
    assert not bool(jnp.any(late["readout"]["w"] != 0))


def test_held_dn_noise_drawn_later_in_the_episode(env):
    """``dn_noise_draw_s``: the held offset is drawn that long after the episode start (0.06 s:
    the fourth step); before it the DNs follow the readout, from it on the offset is held,
    and only the draw step's log-probability depends on the readout. A reset row restarts the
    count."""
    pol, params, norm, carry, traj = _held_rollout(env, dn_noise_draw_s=0.06)
    assert pol.draw_step == 3
    n_dn, obs_size = pol.circuit.n_inputs, env.task.observation_size
    np.testing.assert_array_equal(np.asarray(carry.step), 6)
    latent = np.asarray(traj.raw_action[..., :n_dn])
    readout = np.asarray(traj.obs) @ np.asarray(params["readout"]["w"])
    held = latent - readout - np.asarray(params["readout"]["b"])
    np.testing.assert_allclose(held[:3], 0.0, atol=1e-5)  # before the draw: the readout
    assert 0.3 < float(np.std(held[3])) < 1.0  # the draw, at exp(-0.5) = 0.61
    np.testing.assert_allclose(held[4:], np.broadcast_to(held[3], held[4:].shape), atol=1e-4)

    lp = _dn_log_prob(pol, norm, traj)
    moved = {**params, "readout": jax.tree.map(lambda x: x + 0.1, params["readout"])}
    change = np.asarray(lp(moved) - lp(params))
    np.testing.assert_allclose(np.delete(change, 3, axis=0), 0.0, atol=1e-5)
    assert np.all(np.abs(change[3]) > 1e-4)
    restarted, _, _, _ = pol.apply(
        params, carry, jnp.zeros((4, obs_size)), jnp.asarray([True, False, False, False])
    )
    np.testing.assert_array_equal(np.asarray(restarted.step), [1, 7, 7, 7])


def test_split_ratio_clips_the_dn_draw_apart_from_the_motor_noise(env):
    """``ppo_loss(split_ratio=True)``: the rollout stores the DN latent's own log-probability;
    at the rollout's parameters the split surrogate has the joint one's gradient (they agree
    to first order); once the motor ratio leaves the clip range the joint surrogate stops the
    readout's gradient from those steps, the split one keeps the DN draw's. A network without
    a latent stage is refused."""
    from agents.recurrent_ppo.rollout import compute_gae, ppo_loss

    pol, params, norm, _, traj = _held_rollout(env)
    n_dn, obs_size = pol.circuit.n_inputs, env.task.observation_size
    z, m = traj.raw_action[..., :n_dn], traj.action_mean[..., :n_dn]
    first = gaussian_log_prob(z[0], m[0], jnp.broadcast_to(params["dn_log_std"], m[0].shape))
    np.testing.assert_allclose(traj.latent_log_prob[0], first, atol=1e-4)
    adv = jnp.asarray(np.random.default_rng(0).normal(size=traj.reward.shape), jnp.float32)
    _, targets = compute_gae(traj.reward, traj.value, traj.value[-1], traj.done,
                             traj.truncation, 0.95, 0.95)  # fmt: skip

    def grad(split, tr):
        f = lambda p: ppo_loss(pol, p, norm, tr, adv, targets, 0.2, 0.0, 0.0, split)[0]  # noqa
        return np.asarray(jax.grad(f)(params)["readout"]["w"])

    g_joint, g_split = grad(False, traj), grad(True, traj)
    np.testing.assert_allclose(g_split, g_joint, atol=1e-6 + 1e-4 * np.abs(g_joint).max())
    # the motor noise's old log-probability far off: every motor ratio e^+-5, clipped
    sign = jnp.where(adv > 0, -5.0, 5.0)  # ratio above the range where adv > 0, below else
    off = traj._replace(log_prob=traj.log_prob + sign)
    g_joint, g_split = grad(False, off), grad(True, off)
    assert np.abs(g_joint).max() == 0.0  # the joint ratio is clipped at every step
    assert np.abs(g_split).max() > 0.0  # the DN draw's own ratio is not
    _, metrics = ppo_loss(pol, params, norm, traj, adv, targets, 0.2, 0.0, 0.5, True)
    assert float(metrics["latent_clip_fraction"]) == 0.0
    plain = connectome_walk.make(env.task)
    with pytest.raises(ValueError, match="latent stage"):
        ppo_loss(plain, plain.init(jax.random.PRNGKey(0), obs_size), norm,
                 traj._replace(raw_action=traj.raw_action[..., n_dn:]), adv, targets, 0.2, 0.0,
                 0.5, True)  # fmt: skip


def test_reset_rows_restart_from_the_warm_state(env):
    pol = connectome_walk.make(env.task)
    obs_size = env.task.observation_size
    params = pol.init(jax.random.PRNGKey(0), obs_size)
    obs = jnp.zeros((2, obs_size))
    carry = pol.initial_carry(2)
    carry, _, _ = pol.apply(params, carry, obs, jnp.zeros((2,), bool))
    moved, _, _ = pol.apply(params, carry, obs, jnp.asarray([True, False]))
    fresh, _, _ = pol.apply(params, pol.initial_carry(2), obs, jnp.zeros((2,), bool))
    np.testing.assert_array_equal(moved.rates_hz[0], fresh.rates_hz[0])
    assert not np.array_equal(moved.rates_hz[1], fresh.rates_hz[1])


def test_bad_configurations_raise_clearly(env):
    cpg = flyenvs.brax.make("Walk", backend="mujoco")
    with pytest.raises(ValueError, match="'joints' action mode"):
        connectome_walk.make(cpg.task)
    with pytest.raises(ValueError, match=r"vnc_dt_s must be in \(0, 0.002\]"):
        connectome_walk.make(env.task, vnc_dt_s=0.005)
    with pytest.raises(ValueError, match="whole number"):
        connectome_walk.make(env.task, vnc_dt_s=0.0015)
    with pytest.raises(ValueError, match="unknown parameters"):
        connectome_walk.make(env.task, trainable=("weights",))
    with pytest.raises(KeyError, match="valid:.*drive_gain"):
        connectome_walk.make(env.task, drive_gian=3.0)
    with pytest.raises(ValueError, match="wiring must be"):
        connectome_walk.make(env.task, wiring="random")
    with pytest.raises(ValueError, match=r"dn_noise_corr must be in \[0, 1\]"):
        connectome_walk.make(env.task, dn_noise=True, dn_noise_corr=1.5)
    with pytest.raises(ValueError, match="dn_noise_draw_s must be a whole number"):
        connectome_walk.make(env.task, dn_noise=True, dn_noise_corr=1.0, dn_noise_draw_s=0.03)
    with pytest.raises(ValueError, match="dn_noise_draw_s needs the held DN noise"):
        connectome_walk.make(env.task, dn_noise=True, dn_noise_corr=0.9, dn_noise_draw_s=0.2)


def test_shuffled_control_has_the_same_parameters_and_other_wiring(env):
    real = connectome_walk.make(env.task)
    control = connectome_walk.make(env.task, wiring="shuffled", shuffle_seed=1)
    assert control.circuit.name.endswith("+shuffled1")
    shapes = lambda p: jax.tree.map(jnp.shape, p)  # noqa: E731
    obs_size = env.task.observation_size
    key = jax.random.PRNGKey(0)
    assert shapes(control.init(key, obs_size)) == shapes(real.init(key, obs_size))
    assert not np.array_equal(control.circuit.network.edge_post, real.circuit.network.edge_post)


def test_control_presets_build_their_networks(env):
    """The controls of docs/connectome_walk.md: frozen VNC, shuffled wiring, and an MLP whose
    policy has about the connectome policy's parameter count, all on the same action mode."""
    from agents import ppo
    from agents.recurrent_ppo import driver
    from agents.recurrent_ppo.networks import MLPActorCritic, count_params

    obs_size, key = env.task.observation_size, jax.random.PRNGKey(0)
    nets = {
        name: driver.make_network(ppo.resolve_preset(name), env.task, env.action_size)
        for name in (
            "connectome_quick", "connectome_quick_frozen", "connectome_quick_shuffled",
            "feedforward_quick", "connectome_steer",
        )
    }  # fmt: skip
    assert nets["connectome_quick_frozen"].circuit.trainable == ()
    steer = nets["connectome_steer"]  # its env config differs; the policy builds on this task
    assert steer.circuit.trainable == () and steer.dn_noise_held
    assert steer.readout_mask is not None and steer.readout_mask.sum() == 2  # the command
    assert nets["connectome_quick_shuffled"].circuit.name.endswith("+shuffled0")
    mlp = nets["feedforward_quick"]
    assert isinstance(mlp, MLPActorCritic) and mlp.action_squash == "clip"
    policy_part = lambda p: count_params({k: v for k, v in p.items() if k != "value"})  # noqa: E731
    n_conn = policy_part(nets["connectome_quick"].init(key, obs_size))
    n_mlp = policy_part(mlp.init(key, obs_size))
    assert abs(n_mlp - n_conn) < 0.15 * n_conn, (n_mlp, n_conn)
    carry, (mean, log_std), value = mlp.apply(
        mlp.init(key, obs_size), mlp.initial_carry(3), jnp.ones((3, obs_size)), jnp.ones(3, bool)
    )
    assert mean.shape == log_std.shape == (3, env.action_size) and value.shape == (3,)


def test_fine_tuning_preset_needs_its_source_run(env):
    """steer_proprio fine-tunes a steer run: without ``init_from`` it is refused with the
    preset to start from; with it, the readout sees the whole observation, the VNC frozen."""
    from agents import ppo
    from agents.recurrent_ppo import driver

    with pytest.raises(ValueError, match="fine-tunes a run of preset 'connectome_steer'"):
        ppo.resolve_preset("connectome_steer_proprio")
    cfg = ppo.resolve_preset("connectome_steer_proprio", init_from="runs/steer")
    net = driver.make_network(cfg, env.task, env.action_size)
    assert net.readout_mask is None and net.dn_noise_held and net.circuit.trainable == ()


@pytest.mark.slow
def test_connectome_quick_preset_learns(tmp_path):
    """The connectome policy trained end to end (connectome_quick, ~15 min on 2 cores): the
    eval reward rises by at least 10 % and, in the Gymnasium evaluation, it tracks the commanded
    speed better than the untrained network on the same seeds, without falls (measured
    2026-11-30: 50.08 -> 63.34; |speed - command| 2.01 vs 3.45 mm/s)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from agents import ppo

    run = tmp_path / "run"
    summary = ppo.train(run, ppo.resolve_preset("connectome_quick"))
    rewards = [row["eval/episode_reward"] for row in summary["evals"]]
    assert len(rewards) >= 3 and rewards[-1] >= 1.10 * rewards[0], rewards
    video = tmp_path / "eval.mp4"
    script = Path(__file__).resolve().parents[1] / "scripts" / "evaluate.py"
    args = [str(run), "--out", str(video), "--episodes", "4", "--baseline", "--size", "48", "64"]
    result = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(video.with_suffix(".json").read_text())
    untrained = record["baseline_untrained"]
    assert record["falls"] == 0
    assert record["mean_abs_speed_error_mm_s"] < untrained["mean_abs_speed_error_mm_s"], record


def test_vnc_envelope_script_smoke(tmp_path):
    """scripts/vnc_envelope.py: the open-loop speed / turn envelope of the VNC (one setting)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "vnc_envelope.py"
    out = tmp_path / "env.json"
    args = ["--forward", "0", "--turn", "0.5", "--envs", "2", "--steps", "6", "--warmup-steps", "2"]
    result = subprocess.run(
        [sys.executable, str(script), *args, "--out", str(out)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads(out.read_text())
    (row,) = record["rows"]
    assert row["dn_left"] > 0 > row["dn_right"] and row["falls"] == 0
    assert np.isfinite(row["speed_mm_s"]) and np.isfinite(row["turn_rad_s"])
    bad = subprocess.run(
        [sys.executable, str(script), "--steps", "3", "--warmup-steps", "3"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "--warmup-steps" in bad.stderr


@pytest.mark.slow
def test_bench_policies_script_smoke(tmp_path):
    """scripts/bench_policies.py: each variant trains, the ratios are against the first."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "bench_policies.py"
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(script), "--variants", "mlp:smoke", "connectome:smoke",
         "--segment-steps", "100", "--segments", "2", "--rounds", "1", "--json", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())["variants"]
    assert [r["preset"] for r in rows] == ["smoke", "connectome_smoke"]
    assert rows[0]["ratio"] == 1.0 and all(r["env_steps_per_s"] > 0 for r in rows)


def test_baseline_obs_names_resolve_to_the_command_columns(env):
    """``ppo.baseline_obs`` names observation entries; the driver turns them into the flat
    observation's columns (Walk's command: speed, turn) and refuses a name not observed."""
    from flyenvs.tasks.base import observation_columns

    cols = observation_columns(env.task.observation_spec, ["command"])
    assert len(cols) == 2
    wrapped = flyenvs.brax.wrap_for_training(env, episode_length=STEPS)
    state = wrapped.reset(jax.random.split(jax.random.PRNGKey(3), 2))
    np.testing.assert_allclose(
        state.obs[:, np.asarray(cols)], state.info["task"]["command"], atol=1e-6
    )
    with pytest.raises(ValueError, match="not observed; valid:.*command"):
        observation_columns(env.task.observation_spec, ["comand"])


def test_readout_obs_limits_what_the_dns_read(env):
    """``readout_obs``: the DN readout sees only the named observation entries (the other
    rows of its weight act as zeros); an unknown name is refused, listing the valid ones."""
    from flyenvs.tasks.base import observation_columns

    pol = connectome_walk.make(env.task, readout_obs=["command"])
    obs_size = env.task.observation_size
    params = pol.init(jax.random.PRNGKey(0), obs_size)
    params["readout"]["w"] = jax.random.normal(jax.random.PRNGKey(1), (obs_size, 6))
    obs = jax.random.normal(jax.random.PRNGKey(2), (3, obs_size))
    cols = np.asarray(observation_columns(env.task.observation_spec, ["command"]))
    other = obs.at[:, np.setdiff1d(np.arange(obs_size), cols)].set(0.0)
    np.testing.assert_allclose(pol.dn_readout(params, obs), pol.dn_readout(params, other),
                               atol=1e-5)  # fmt: skip
    moved = obs.at[:, cols[1]].add(1.0)  # the turn command
    assert float(jnp.abs(pol.dn_readout(params, moved) - pol.dn_readout(params, obs)).max()) > 0.1
    with pytest.raises(ValueError, match="not observed; valid:.*command"):
        connectome_walk.make(env.task, readout_obs=["comand"])
    with pytest.raises(ValueError, match="readout_mask has"):
        pol.init(jax.random.PRNGKey(0), obs_size + 1)


def test_bilateral_readout_mirrors_the_command_onto_the_dns(env):
    """``readout_symmetry="bilateral"``: the fly's mirror image (turn command negated) drives
    the mirrored DNs (left and right swapped), whatever the weights; the speed command drives
    both sides alike. Entries without a known mirror image are refused."""
    pol = connectome_walk.make(env.task, readout_obs=["command"], readout_symmetry="bilateral")
    names = pol.circuit.network.dn_names
    swap = connectome_walk.dn_mirror(names)
    assert [names[i] for i in swap][:2] == ["DNg100_RF", "DNg100_RM"]
    obs_size = env.task.observation_size
    params = pol.init(jax.random.PRNGKey(0), obs_size)
    params["readout"]["w"] = jax.random.normal(jax.random.PRNGKey(1), (obs_size, 6))
    params["readout"]["b"] = jax.random.normal(jax.random.PRNGKey(2), (6,))
    obs = jax.random.normal(jax.random.PRNGKey(3), (4, obs_size))
    mirrored = obs * pol.readout_mirror
    np.testing.assert_allclose(
        pol.dn_readout(params, mirrored), pol.dn_readout(params, obs)[:, swap], atol=1e-5
    )
    from flyenvs.tasks.base import observation_columns

    i_speed, i_turn = observation_columns(env.task.observation_spec, ["command"])
    zero = jnp.zeros((1, obs_size))
    base = pol.dn_readout(params, zero)
    d_turn = np.asarray(pol.dn_readout(params, zero.at[0, i_turn].set(1.0)) - base)[0]
    d_speed = np.asarray(pol.dn_readout(params, zero.at[0, i_speed].set(1.0)) - base)[0]
    np.testing.assert_allclose(d_turn, -d_turn[swap], atol=1e-5)  # antisymmetric
    np.testing.assert_allclose(d_speed, d_speed[swap], atol=1e-5)  # symmetric
    with pytest.raises(ValueError, match="mirror image.*unknown for"):
        connectome_walk.make(env.task, readout_symmetry="bilateral")
    with pytest.raises(ValueError, match="readout_symmetry must be"):
        connectome_walk.make(env.task, readout_obs=["command"], readout_symmetry="radial")
    with pytest.raises(ValueError, match="no mirror partner"):
        connectome_walk.dn_mirror(("DNg100_LF", "DNg100_RM"))
