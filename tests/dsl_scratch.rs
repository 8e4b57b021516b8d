use pyro::prelude::*;

#[model]
fn coin() -> PyroResult<Tensor<Rank0>> {
    let f = sample!("flip", Bernoulli::new(0.5));
    Ok(f)
}

#[model]
fn flips(data: &Tensor<(usize,)>) -> PyroResult<()> {
    let p = param!("p", 0.5, constraint = Constraint::UnitInterval);
    plate!("flips", data.shape().0, {
        sample!("obs", Bernoulli::new(&p), obs = data);
    });
    Ok(())
}

#[guide(model = coin)]
fn coin_guide() -> PyroResult<()> {
    sample!("flip", Bernoulli::new(0.3));
    Ok(())
}

#[test]
fn scratch() {
    let x = coin().unwrap();
    println!("{:?}", x.array());
    coin_guide().unwrap();
}
