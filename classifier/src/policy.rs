//! Policy (placeholder, written next).
#[derive(Debug)]
pub struct Policy;
#[derive(Debug)]
pub struct Decision;
#[derive(Debug)]
pub enum Action {
    Allow,
    Block,
}
